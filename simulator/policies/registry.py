"""One registry for every policy kind: ``@register(kind, name)`` and ``create(kind, ref)``.

Must not import: simpy, anything from ``engine``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import numpy as np
from pydantic import ValidationError

from .base import Policy

KINDS = ("scheduling", "placement", "autoscaling", "replicas", "elastic")
_REGISTRY: dict[str, dict[str, type[Policy]]] = {kind: {} for kind in KINDS}


class PolicyError(ValueError):
    """Unknown policy name or bad parameters; ``problems`` are (dotted sub-path, message)."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" if p else m for p, m in problems))


def register(kind: str, name: str) -> Callable[[type[Policy]], type[Policy]]:
    """Class decorator adding a policy to the registry under ``kind``/``name``.

    Registering an existing name replaces it (so a notebook cell can be re-run).
    """
    if kind not in _REGISTRY:
        raise ValueError(f"unknown policy kind {kind!r}; valid kinds: {', '.join(KINDS)}")

    def decorate(cls: type[Policy]) -> type[Policy]:
        if cls.kind != kind:
            raise TypeError(f"{cls.__name__} is a {cls.kind} policy, not {kind}")
        cls.name = name
        _REGISTRY[kind][name] = cls
        return cls

    return decorate


def names(kind: str) -> list[str]:
    """Registered names of one kind, sorted."""
    return sorted(_REGISTRY[kind])


def create(
    kind: str, name: str, params: dict | None = None, rng: np.random.Generator | None = None
) -> Policy:
    """Instantiate a registered policy with validated parameters.

    Raises:
        PolicyError: unknown name (the message lists the valid ones) or invalid parameters.
    """
    cls = _REGISTRY[kind].get(name)
    if cls is None:
        close = difflib.get_close_matches(name, names(kind), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise PolicyError(
            [("", f"unknown {kind} policy {name!r}; {hint}valid: {', '.join(names(kind))}")]
        )
    try:
        p = cls.Params(**(params or {}))
    except ValidationError as e:
        raise PolicyError(
            [
                ("params." + ".".join(map(str, err["loc"])), err["msg"])
                for err in e.errors(include_url=False)
            ]
        ) from None
    return cls(p, rng)
