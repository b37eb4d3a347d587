"""Bounds on scenario input, checked before anything is built or simulated.

Role: read files safely (regular files only, a size cap), parse YAML without expanding alias
bombs (depth, alias count and expanded size checked on the event stream and the node graph,
before any Python object is built), and check parsed data of any format (nesting depth,
integer magnitude, string length, finite numbers). Every problem is a located
:class:`Problem`; nothing here raises anything else.

The limits are constants of this module, documented in the README; the estimated size of a run
(jobs, requests, nodes, events) is bounded separately by the scenario's ``limits`` block (see
:mod:`simulator.scenario.estimate`).

Must not import: simpy, numba, networkx, anything from ``engine``/``kernels``/``policies``.
"""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from .problems import Problem, ScenarioError

MAX_FILE_BYTES = 16 * 2**20  # a scenario or an included component
MAX_DEPTH = 64  # nested mappings and lists
MAX_VALUES = 500_000  # values in one document, with YAML aliases expanded
MAX_ALIASES = 10_000  # YAML alias uses in one document
MAX_INCLUDE_DEPTH = 16  # a file including a file including ...
MAX_INCLUDES = 256  # files read for one scenario, includes and all
MAX_INT = 2**63 - 1  # magnitude of any integer
MAX_STRING = 10_000  # characters in any one string (keys and values)

# libyaml's parser when PyYAML has it (the wheels do): ~50x faster on big files, same events,
# nodes and marks as the pure-Python one
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def regular_file(path: str | Path, label: str, *, limit: int | None = None) -> int:
    """The size of ``path`` after checking it is a regular file (not a directory, FIFO or
    device, which would hang or never end) of at most ``limit`` bytes."""

    def fail(message: str) -> ScenarioError:
        return ScenarioError([Problem(label, "", message)])

    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise fail("file not found") from None
    except OSError as e:
        raise fail(f"cannot read file: {e.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise fail("is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise fail("is not a regular file (a device, FIFO or socket); give a file")
    if limit is not None and info.st_size > limit:
        raise fail(f"is {info.st_size:,} bytes; files here may be at most {limit:,} bytes")
    return info.st_size


def read_text(path: Path, label: str, *, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes."""
    regular_file(path, label, limit=limit)
    try:
        with open(path, "rb") as f:
            raw = f.read(limit + 1)
    except OSError as e:
        raise ScenarioError([Problem(label, "", f"cannot read file: {e.strerror}")]) from None
    if len(raw) > limit:
        raise ScenarioError([Problem(label, "", f"grew past {limit:,} bytes while being read")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ScenarioError(
            [Problem(label, "", f"not UTF-8 text (byte {e.start} is {raw[e.start]:#04x})", line)]
        ) from None


def compose_yaml(text: str, label: str) -> yaml.Node | None:
    """The node graph of one YAML document, refused if it nests deeper than
    :data:`MAX_DEPTH`, uses more than :data:`MAX_ALIASES` aliases, or expands (aliases and
    merge keys followed) to more than :data:`MAX_VALUES` values. Raises ``yaml.YAMLError``
    for syntax errors."""
    depth = aliases = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _limit(label, f"nested deeper than {MAX_DEPTH} levels", event)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise _limit(label, f"uses more than {MAX_ALIASES:,} YAML aliases", event)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    if node is not None:
        _expanded_size(node, label)
    return node


def load_yaml(text: str, label: str) -> tuple[Any, yaml.Node | None]:
    """The value of one YAML document and its node graph (for key lines), bounded as
    :func:`compose_yaml` says."""
    node = compose_yaml(text, label)
    if node is None:
        return None, None
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node), node
    finally:
        loader.dispose()


def _limit(label: str, message: str, event_or_node: Any) -> ScenarioError:
    mark = event_or_node.start_mark
    return ScenarioError([Problem(label, "", message, mark.line + 1 if mark else None)])


def _expanded_size(root: yaml.Node, label: str) -> int:
    """Values of the document with every alias expanded, computed on the shared node graph
    (each node once) without expanding it; recursive aliases are refused."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] > MAX_VALUES:
                raise _limit(
                    label,
                    f"expands (YAML aliases followed) to more than {MAX_VALUES:,} values",
                    node,
                )
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise _limit(label, "a YAML alias refers to a node that contains it", node)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def data_problems(data: Any, locate) -> list[Problem]:
    """Problems of parsed data in any format: more than :data:`MAX_VALUES` values, nesting
    deeper than :data:`MAX_DEPTH`, integers beyond :data:`MAX_INT`, strings longer than
    :data:`MAX_STRING`, NaN or infinite numbers.
    ``locate(path)`` gives ``(file, line)`` of a dotted path tuple."""
    problems: list[Problem] = []

    def add(path: tuple, message: str) -> None:
        file, line = locate(path)
        problems.append(Problem(file, ".".join(map(str, path)), message, line))

    stack: list[tuple[tuple, Any]] = [((), data)]
    values = 0
    while stack and len(problems) < 50:
        path, value = stack.pop()
        values += 1
        if values > MAX_VALUES:
            add((), f"holds more than {MAX_VALUES:,} values")
            break
        if len(path) > MAX_DEPTH:
            add(path[:MAX_DEPTH], f"nested deeper than {MAX_DEPTH} levels")
            continue
        if isinstance(value, dict):
            for k, v in value.items():
                if isinstance(k, str) and len(k) > MAX_STRING:
                    add(path, f"a key is {len(k):,} characters long (at most {MAX_STRING:,})")
                    continue
                stack.append(((*path, k), v))
        elif isinstance(value, list):
            stack.extend(((*path, i), v) for i, v in enumerate(value))
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if abs(value) > MAX_INT:
                digits = len(str(abs(value)))
                add(path, f"the integer is too large ({digits} digits; at most {MAX_INT:.2e})")
        elif isinstance(value, float):
            if not math.isfinite(value):
                add(path, f"must be a finite number, got {value}")
        elif isinstance(value, str) and len(value) > MAX_STRING:
            add(path, f"the string is {len(value):,} characters long (at most {MAX_STRING:,})")
    return sorted(problems, key=lambda p: (p.file, p.line or 0, p.path))
