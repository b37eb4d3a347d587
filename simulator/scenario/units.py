"""Unit strings -> SI floats, checked against the dimension a field expects.

Role: turn scenario values such as ``"400Gbps"``, ``"80GiB"``, ``"2h"``, ``"700W"`` or ``"10/h"``
into plain SI floats (seconds, bytes, bytes per second, watts, 1/s, FLOP/s). A plain number is
taken as already SI. Mixing dimensions (``"4/h"`` where a duration is expected) is an error whose
message names what was expected and what was given.

Must not import: simpy, numba, anything outside the standard library.
"""

from __future__ import annotations

import math
import re
from typing import Final

# Each dimension: {unit suffix: factor to SI}. Suffixes are matched case-sensitively first,
# then case-insensitively, so "gbps" works but "Mb" (megabit?) is never guessed.
_TIME: Final = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}
_BYTES: Final = {
    "B": 1.0,
    "KB": 1e3,
    "MB": 1e6,
    "GB": 1e9,
    "TB": 1e12,
    "PB": 1e15,
    "KiB": 2.0**10,
    "MiB": 2.0**20,
    "GiB": 2.0**30,
    "TiB": 2.0**40,
    "PiB": 2.0**50,
}
_BANDWIDTH: Final = {
    "bps": 1 / 8,
    "Kbps": 1e3 / 8,
    "Mbps": 1e6 / 8,
    "Gbps": 1e9 / 8,
    "Tbps": 1e12 / 8,
    **{f"{k}/s": v for k, v in _BYTES.items()},
}
_POWER: Final = {"W": 1.0, "kW": 1e3, "MW": 1e6}
_FLOPS: Final = {
    "FLOPS": 1.0,
    "GFLOPS": 1e9,
    "TFLOPS": 1e12,
    "PFLOPS": 1e15,
    "FLOP/s": 1.0,
    "GFLOP/s": 1e9,
    "TFLOP/s": 1e12,
    "PFLOP/s": 1e15,
}

DIMENSIONS: Final[dict[str, dict[str, float]]] = {
    "duration": _TIME,
    "bytes": _BYTES,
    "bandwidth": _BANDWIDTH,
    "power": _POWER,
    "flops": _FLOPS,
    "rate": {},  # "<number>/<time unit>", handled separately
}

EXAMPLES: Final = {
    "duration": "'90s', '15m', '2h', '14d'",
    "bytes": "'80GiB', '512MB'",
    "bandwidth": "'400Gbps', '900GB/s'",
    "power": "'700W', '10kW'",
    "flops": "'989TFLOPS'",
    "rate": "'4/h', '10/min', '0.5/s'",
}

_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\d\s].*?)?\s*$")


class UnitError(ValueError):
    """A value that cannot be read as a quantity of the expected dimension."""


def _lookup(table: dict[str, float], suffix: str) -> float | None:
    if suffix in table:
        return table[suffix]
    folded = {k.lower(): v for k, v in table.items()}
    return folded.get(suffix.lower())


def _dimension_of(suffix: str) -> str | None:
    """Name the dimension a unit suffix belongs to, for error messages."""
    if suffix.startswith("/") and _lookup(_TIME, suffix[1:].strip()) is not None:
        return "rate"
    for dim, table in DIMENSIONS.items():
        if table and _lookup(table, suffix) is not None:
            return dim
    return None


def parse_quantity(value: object, dimension: str) -> float:
    """Read ``value`` as a quantity of ``dimension`` and return it in SI units.

    Args:
        value: a number (already SI) or a string such as ``"2h"`` or ``"4/h"``.
        dimension: one of ``duration, bytes, bandwidth, power, flops, rate``.

    Returns:
        The value in SI units (s, B, B/s, W, FLOP/s, 1/s).

    Raises:
        UnitError: the value is not a number, has an unknown unit, or has a unit of another
            dimension.
    """
    if dimension not in DIMENSIONS:
        raise KeyError(f"unknown dimension {dimension!r}")
    hint = f"write it like {EXAMPLES[dimension]} or as a plain number in SI units"
    if isinstance(value, bool):
        raise UnitError(f"expected a {dimension}, got a boolean; {hint}")
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        result = _parse_string(value, dimension, hint)
    else:
        raise UnitError(f"expected a {dimension}, got {type(value).__name__}; {hint}")
    if not math.isfinite(result):
        raise UnitError(f"{dimension} must be finite, got {value!r}")
    return result


def _parse_string(text: str, dimension: str, hint: str) -> float:
    match = _QUANTITY.match(text)
    if not match:
        raise UnitError(f"cannot read {text!r} as a {dimension}; {hint}")
    number, suffix = float(match.group(1)), (match.group(2) or "").strip()
    if not suffix:
        return number
    if dimension == "rate":
        per = suffix[1:] if suffix.startswith("/") else None
        factor = _lookup(_TIME, per.strip()) if per else None
        if factor is not None:
            return number / factor
    else:
        factor = _lookup(DIMENSIONS[dimension], suffix)
        if factor is not None:
            return number * factor
    other = _dimension_of(suffix)
    if other and other != dimension:
        raise UnitError(f"{text!r} is a {other}, but a {dimension} is expected here; {hint}")
    raise UnitError(f"unknown unit {suffix!r} in {text!r}; {hint}")


def format_duration(seconds: float) -> str:
    """Human-readable duration for tables and progress bars (``"3d 4h"``, ``"12m 5s"``)."""
    if not math.isfinite(seconds):
        return "-"
    s = abs(seconds)
    sign = "-" if seconds < 0 else ""
    for unit, size, sub, subsize in (
        ("d", 86400, "h", 3600),
        ("h", 3600, "m", 60),
        ("m", 60, "s", 1),
    ):
        if s >= size:
            major, rest = divmod(s, size)
            return f"{sign}{int(major)}{unit} {int(rest // subsize)}{sub}"
    return f"{sign}{s:.3g}s"
