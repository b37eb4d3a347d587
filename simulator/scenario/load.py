"""Scenario files -> validated :class:`~simulator.scenario.spec.Scenario`.

Role: read YAML (primary), TOML or JSON; resolve ``include`` (paths relative to the including
file, later files and the including file win, lists are replaced); apply dotted ``--set``
overrides; validate; and report *every* problem at once as one line each with file, line (YAML),
dotted path and a hint. Raises :class:`ScenarioError`; never prints.

Must not import: simpy, numba, networkx, anything from ``engine``/``kernels``/``policies``.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from . import limits
from .problems import (
    Origins,
    Path_,
    Problem,
    ScenarioError,
    locate,
    problems_from,
    semantic_problems,
)
from .spec import Scenario


def load_scenario(
    source: str | Path | Mapping[str, Any],
    overrides: Iterable[str] | Mapping[str, Any] = (),
    *,
    seed: int | None = None,
) -> Scenario:
    """Read, merge, override and validate a scenario.

    Args:
        source: path of a ``.yaml``/``.yml``/``.toml``/``.json`` file, or an already-parsed
            mapping (``include`` paths are then relative to the working directory).
        overrides: ``"dotted.path=value"`` strings (values parsed as YAML) or a mapping of
            dotted paths to values, applied after includes.
        seed: replaces the scenario's ``seed`` when given.

    Returns:
        The validated, immutable scenario.

    Raises:
        ScenarioError: listing every problem found.
    """
    if isinstance(source, Mapping):
        label = "<mapping>"
        data = dict(source)
        origins = _paths(data, (), label, {})
        data, origins = _resolve_includes(data, origins, label, Path.cwd(), [], [])
    else:
        path = Path(source)
        label = str(source)
        data, origins = _load_with_includes(path, [], [])
    pairs = _override_pairs(overrides)
    if seed is not None:
        pairs.append(("seed", seed))
    problems: list[Problem] = []
    for dotted, value in pairs:
        try:
            _set_dotted(data, dotted, value)
            origins[_split(dotted)] = ("--set", None)
        except (KeyError, IndexError, TypeError) as e:
            problems.append(Problem("--set", dotted, e.args[0]))
    problems += limits.data_problems(data, lambda path: locate(path, origins, label))
    if problems:
        raise ScenarioError(problems)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        raise ScenarioError(problems_from(e, data, origins, label)) from None
    problems = semantic_problems(scenario, origins, label)
    if problems:
        raise ScenarioError(problems)
    return scenario


def dump_scenario(scenario: Scenario) -> str:
    """YAML text of a scenario in SI units; loading it gives an equal scenario."""
    return yaml.safe_dump(scenario.model_dump(mode="json", exclude_none=True), sort_keys=False)


# --------------------------------------------------------------------------- reading


def _read(path: Path) -> tuple[Any, Origins]:
    """Parse one file (bounded, see :mod:`.limits`); YAML also yields the line of every key."""
    label = str(path)
    text = limits.read_text(path, label)
    suffix = path.suffix.lower()
    try:
        if suffix in (".toml", ".json"):
            data = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
            return data, _paths(data, (), label, {})
        data, node = limits.load_yaml(text, label)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(e, "problem", None) or str(e)
        raise ScenarioError([Problem(label, "", f"YAML syntax error: {reason}", line)]) from None
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError([Problem(label, "", f"TOML syntax error: {e}")]) from None
    except json.JSONDecodeError as e:
        raise ScenarioError([Problem(label, "", f"JSON syntax error: {e.msg}", e.lineno)]) from None
    except RecursionError:
        message = f"nested deeper than {limits.MAX_DEPTH} levels"
        raise ScenarioError([Problem(label, "", message)]) from None
    except ValueError as e:  # e.g. an integer of more digits than Python converts
        raise ScenarioError([Problem(label, "", f"cannot read a value: {e}")]) from None
    origins: Origins = {}
    if node is not None:
        _yaml_lines(node, (), label, origins)
    return data, origins


def load_value(text: str) -> Any:
    """A ``--set``/``--axis`` value: YAML, bounded like a scenario file (a plain string if
    it is not YAML). Raises ValueError with a one-line reason for values over a limit."""
    if not text.strip():
        return ""
    if len(text) > limits.MAX_STRING:
        raise ValueError(
            f"the value is {len(text):,} characters long (at most {limits.MAX_STRING:,})"
        )
    try:
        value = limits.load_yaml(text, "--set")[0]
    except ScenarioError as e:
        raise ValueError(e.problems[0].message) from None
    except yaml.YAMLError:
        return text
    except ValueError as e:
        raise ValueError(f"cannot read the value: {e}") from None
    found = limits.data_problems(value, lambda path: ("--set", None))
    if found:
        raise ValueError(found[0].message)
    return value


def _yaml_lines(node: yaml.Node, path: Path_, label: str, out: Origins) -> None:
    out[path] = (label, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            _yaml_lines(value, child, label, out)
            out[child] = (label, key.start_mark.line + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _yaml_lines(item, (*path, i), label, out)


def _paths(data: Any, path: Path_, label: str, out: Origins) -> Origins:
    """Every path a TOML/JSON document defines, located in ``label`` (no line numbers)."""
    out[path] = (label, None)
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        items = ()
    for key, value in items:
        _paths(value, (*path, key), label, out)
    return out


def _load_with_includes(path: Path, stack: list[Path], files: list[Path]) -> tuple[dict, Origins]:
    """Read ``path`` and what it includes; ``stack`` is the chain of including files and
    ``files`` every file read so far (both bounded)."""
    resolved = path.resolve()
    if resolved in stack:
        chain = " -> ".join(str(p) for p in [*stack, resolved])
        raise ScenarioError([Problem(str(path), "include", f"include cycle: {chain}")])
    if len(stack) >= limits.MAX_INCLUDE_DEPTH:
        message = f"includes nest deeper than {limits.MAX_INCLUDE_DEPTH} files"
        raise ScenarioError([Problem(str(path), "include", message)])
    if len(files) >= limits.MAX_INCLUDES:
        message = f"more than {limits.MAX_INCLUDES} files are included in all"
        raise ScenarioError([Problem(str(path), "include", message)])
    files.append(resolved)
    data, origins = _read(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError([Problem(str(path), "", "the top level must be a mapping of keys")])
    _anchor_paths(data, path.parent)
    return _resolve_includes(data, origins, str(path), path.parent, [*stack, resolved], files)


def _anchor_paths(data: dict, base_dir: Path) -> None:
    """Make relative data-file paths (model profiles, traces, carbon intensities) relative to
    the file giving them."""
    holders: list[tuple[Any, tuple[str, ...]]] = []
    cluster = data.get("cluster")
    dcs = cluster.get("datacenters") if isinstance(cluster, dict) else None
    for dc in dcs if isinstance(dcs, list) else []:
        holders.append((dc.get("carbon_intensity") if isinstance(dc, dict) else None, ("path",)))
    workload = data.get("workload")
    workload = workload if isinstance(workload, dict) else {}
    holders.append((workload.get("trace"), ("path", "tasks", "throughputs")))
    streams = workload.get("training")
    for stream in streams if isinstance(streams, list) else []:
        model = stream.get("model") if isinstance(stream, dict) else None
        holders.append((model.get("profile") if isinstance(model, dict) else None, ("path",)))
    services = workload.get("services")
    for service in services if isinstance(services, list) else []:
        arrivals = service.get("arrivals") if isinstance(service, dict) else None
        holders.append((arrivals.get("trace") if isinstance(arrivals, dict) else None, ("path",)))
    failures = data.get("failures")
    holders.append((failures if isinstance(failures, dict) else None, ("trace",)))
    for holder, keys in holders:
        for key in keys if isinstance(holder, dict) else ():
            where = holder.get(key)
            if isinstance(where, str) and not Path(where).is_absolute():
                holder[key] = os.path.normpath(base_dir / where)


def _resolve_includes(
    data: dict, origins: Origins, label: str, base_dir: Path, stack: list[Path], files: list[Path]
) -> tuple[dict, Origins]:
    includes = data.pop("include", None)
    if includes is None:
        return data, origins
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        line = origins.get(("include",), (label, None))[1]
        raise ScenarioError(
            [Problem(label, "include", "must be a file path or a list of them", line)]
        )
    merged: dict = {}
    merged_origins: Origins = {}
    problems: list[Problem] = []
    for i, inc in enumerate(includes):
        try:
            sub, sub_origins = _load_with_includes(base_dir / inc, stack, files)
        except ScenarioError as e:
            line = origins.get(("include", i), origins.get(("include",), (label, None)))[1]
            problems.append(Problem(label, f"include.{i}", f"cannot include {inc!r}", line))
            problems.extend(e.problems)
            continue
        merged = _deep_merge(merged, sub)
        merged_origins.update(sub_origins)
    if problems:
        raise ScenarioError(problems)
    merged_origins = {p: o for p, o in merged_origins.items() if not _replaced(p, data)}
    merged_origins.update(origins)
    return _deep_merge(merged, data), merged_origins


def _replaced(path: Path_, data: dict) -> bool:
    """Whether ``data`` replaces ``path`` wholesale (the path or a prefix of it holds a
    non-mapping in ``data``), so an included file's location for it no longer applies."""
    node: Any = data
    for part in path:
        if part not in node:
            return False
        node = node[part]
        if not isinstance(node, dict):
            return True
    return False


def _deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


# --------------------------------------------------------------------------- overrides


def _split(dotted: str) -> Path_:
    return tuple(int(p) if p.lstrip("-").isdigit() else p for p in dotted.split("."))


_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$|^-?\d+$")


def _override_pairs(overrides: Iterable[str] | Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``(dotted key, value)`` pairs; every malformed one is reported."""
    problems, items = [], []  # items: (key, value, the override as given)
    if isinstance(overrides, Mapping):
        items = [(str(k), v, f"{k}=...") for k, v in overrides.items()]
    else:
        for item in overrides:
            key, sep, text = item.partition("=")
            key = key.strip()
            if not sep or not key:
                example = "scheduler.policy=fifo or workload.training.0.count=50"
                problems.append(Problem("--set", item, f"expected KEY=VALUE, e.g. {example}"))
                continue
            try:
                items.append((key, load_value(text), item))
            except ValueError as e:
                problems.append(Problem("--set", key, str(e)))
    pairs = []
    for key, value, item in items:
        parts = key.split(".")
        if not all(_KEY.match(p) for p in parts):
            example = "cluster.datacenters.0.name"
            message = f"KEY must be a dotted path of names and list indices, e.g. {example}"
            problems.append(Problem("--set", item, message))
        elif parts[0] == "include":
            message = "include cannot be overridden; edit the scenario file"
            problems.append(Problem("--set", item, message))
        else:
            pairs.append((key, value))
    if problems:
        raise ScenarioError(problems)
    return pairs


def _set_dotted(data: dict, dotted: str, value: Any) -> None:
    parts = _split(dotted)
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(str(p) for p in parts[: depth + 1])
        if isinstance(node, list):
            if not isinstance(part, int):
                raise TypeError(f"{where}: a list needs a numeric index, got {part!r}")
            if not -len(node) <= part < len(node):
                raise IndexError(f"index {part} out of range: the list has {len(node)} items")
        elif isinstance(node, dict):
            part = str(part)
            if not last and part not in node:
                node[part] = {}
        else:
            raise TypeError(f"cannot set {where}: its parent is a {type(node).__name__}")
        if last:
            node[part] = value
        else:
            node = node[part]
