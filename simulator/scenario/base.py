"""Shared building blocks of the scenario schema: the frozen base models, unit-typed fields,
scalar-or-mapping shorthands and the small cross-field checks.

Must not import: simpy, numba, networkx, anything from ``engine``/``kernels``/``policies``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Tag,
    WithJsonSchema,
)

from .units import EXAMPLES, parse_quantity

MAX_DURATION_S = 1e9  # ~31.7 years: longer is a unit mistake, and float time loses the second


def quantity(dimension: str, *, positive: bool = False) -> Any:
    def parse(value: object) -> float:
        result = parse_quantity(value, dimension)
        if dimension == "duration" and result > MAX_DURATION_S:
            raise ValueError(f"at most {MAX_DURATION_S:.0e} s (31 years), got {value!r}")
        if positive and result <= 0:
            raise ValueError(f"must be > 0, got {value!r}")
        if result < 0:
            raise ValueError(f"must be >= 0, got {value!r}")
        return result

    schema = {
        "anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}],
        "description": f"a {dimension}: a plain SI number or a string like {EXAMPLES[dimension]}",
    }
    return Annotated[float, BeforeValidator(parse), WithJsonSchema(schema)]


Duration = quantity("duration")
PositiveDuration = quantity("duration", positive=True)
Rate = quantity("rate", positive=True)
Bandwidth = quantity("bandwidth", positive=True)
Power = quantity("power")


def either(scalar: Any, mapping: Any) -> Any:
    """A value given either as a scalar or as a mapping; errors come from the branch whose
    shape the input has, so users see one message instead of one per union member. Tags start
    with '~' so error paths can drop them."""
    return Annotated[
        Annotated[scalar, Tag("~scalar")] | Annotated[mapping, Tag("~mapping")],
        Discriminator(lambda v: "~mapping" if isinstance(v, dict | BaseModel) else "~scalar"),
    ]


class Spec(BaseModel):
    """Base of every scenario model: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ShorthandSpec(Spec):
    """A model that also accepts a bare scalar shorthand (see its ``_shorthand`` validator);
    the JSON Schema says so, so editors accept both forms."""

    SHORTHAND: ClassVar[dict] = {"type": "string"}

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict:
        return {"anyOf": [cls.SHORTHAND, handler(core_schema)]}


def exactly_one_of(model: BaseModel, keys: tuple[str, ...]) -> None:
    given = [k for k in keys if getattr(model, k) is not None]
    if len(given) != 1:
        got = f"got {', '.join(given)}" if given else "got none"
        raise ValueError(f"give exactly one of {', '.join(keys)} ({got})")


def check_weights(choice: list, weights: list[float] | None) -> None:
    if weights is None:
        return
    if len(weights) != len(choice):
        raise ValueError(f"weights has {len(weights)} entries but choice has {len(choice)}")
    total = sum(weights)
    if total <= 0:
        raise ValueError("weights must not all be zero")
    if total == float("inf"):
        raise ValueError("weights are too large (their sum overflows)")


def known(lookup: Any, name: str) -> str:
    """``name`` if ``lookup(name)`` finds it; its KeyError (with hints) as a ValueError."""
    try:
        lookup(name)
    except KeyError as e:
        raise ValueError(e.args[0]) from None
    return name
