"""What every trace reader returns, and the checked, chunked CSV reading they share.

A malformed row (a value that does not parse, a missing required value, an impossible time or
size, bytes that are not UTF-8) is reported with the file, its true line and the column; with
``on_error="skip"`` it is dropped and counted instead. Nothing is dropped silently; blank lines
are not rows (and do not shift the reported line numbers).

Must not import: simpy, numba, anything from ``engine``/``policies``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ...scenario.limits import regular_file
from ...scenario.problems import Problem, ScenarioError

CHUNK_ROWS = 250_000  # rows parsed at a time: memory follows the job table, not the file
MAX_REPORTED = 20  # malformed rows listed one per line before "... and N more"


@dataclass
class Trace:
    """Jobs as a trace records them; times in seconds on the trace's own clock."""

    submit_s: np.ndarray  # float64
    duration_s: np.ndarray  # float64, run time
    gpus: np.ndarray  # int64, whole devices asked for (1 for a fractional request)
    vc: np.ndarray | None = None  # str per job: virtual cluster / queue / tenant
    state: np.ndarray | None = None  # str per job: the final state the trace recorded
    start_s: np.ndarray | None = None  # float64: recorded first start (NaN: unknown)
    gpu_milli: np.ndarray | None = None  # int64: thousandths of one GPU (< 1000: a share)
    gpu_type: np.ndarray | None = None  # str per job: required GPU model ('' = any)
    skipped: int = 0  # malformed rows skipped (on_error: skip)
    ignored: dict[str, int] = field(default_factory=dict)  # rows that are not jobs, by reason

    def __len__(self) -> int:
        return len(self.submit_s)

    def take(self, keep: np.ndarray) -> Trace:
        """The jobs selected by a boolean mask or index array."""

        def pick(a):
            return None if a is None else a[keep]

        return Trace(
            self.submit_s[keep],
            self.duration_s[keep],
            self.gpus[keep],
            pick(self.vc),
            pick(self.state),
            pick(self.start_s),
            pick(self.gpu_milli),
            pick(self.gpu_type),
            self.skipped,
            dict(self.ignored),
        )


Parser = Callable[[pd.Series], tuple[np.ndarray, np.ndarray]]  # -> (values, bad mask)


MAX_GPUS = 1_000_000  # more devices than any cluster: a corrupt row
MAX_SECONDS = 1e10  # ~317 years: a run time beyond is a corrupt row
MAX_CLOCK = 1e12  # a clock reading beyond (the year 33,658 in Unix time) is a corrupt row


def number(
    kind: type = float,
    *,
    minimum: float | None = 0.0,
    maximum: float | None = None,
    required: bool = True,
) -> Parser:
    """Finite numbers (``kind`` int or float) in ``[minimum, maximum]`` (ints: at most
    :data:`MAX_GPUS` unless given); empty is bad if ``required`` (else NaN, or -1 for ints)."""
    if maximum is None:
        maximum = MAX_GPUS if kind is int else MAX_SECONDS

    def parse(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        text = raw.str.strip()
        empty = text.eq("") | text.str.lower().isin(["none", "nan", "null"])
        values = pd.to_numeric(text.where(~empty), errors="coerce").to_numpy(np.float64)
        bad = np.isnan(values) & (~empty.to_numpy() | required)
        bad |= np.isinf(values) | (values > maximum)
        if minimum is not None:
            bad |= values < minimum
        if kind is int:
            bad |= ~np.isnan(values) & (values != np.round(values))
            values = np.where(np.isnan(values) | bad, -1, values)
            return values.astype(np.int64), bad
        return values, bad

    what = "an integer" if kind is int else "a finite number"
    low = "" if minimum is None else f"{minimum:g} <= "
    parse.expects = f"{what} ({low}x <= {maximum:g})"  # type: ignore[attr-defined]
    return parse


def timestamp(*, required: bool = True) -> Parser:
    """Seconds: a plain number, or a date-time string (seconds since the Unix epoch)."""

    def parse(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        text = raw.str.strip()
        empty = (text.eq("") | text.str.lower().isin(["none", "nan", "null"])).to_numpy()
        values = pd.to_numeric(text.where(~empty), errors="coerce").to_numpy(np.float64, copy=True)
        dates = ~empty & np.isnan(values)
        if dates.any():
            parsed = pd.to_datetime(text[dates], errors="coerce", format="mixed")
            seconds = (parsed - pd.Timestamp(0)).dt.total_seconds().to_numpy(np.float64)
            values[dates] = seconds
        bad = np.isnan(values) & (~empty | required)
        bad |= np.isinf(values) | (np.abs(values) > MAX_CLOCK)
        return values, bad

    parse.expects = f"a time (seconds up to {MAX_CLOCK:g}, or a date)"  # type: ignore[attr-defined]
    return parse


def text() -> Parser:
    def parse(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        return raw.str.strip().to_numpy(object), np.zeros(len(raw), dtype=bool)

    return parse


def read_columns(
    path: str | Path,
    parsers: dict[str, Parser],
    *,
    on_error: str,
    header: list[str] | None = None,
    sep: str = ",",
    check: Callable[[dict[str, np.ndarray]], list[tuple[np.ndarray, str, str]]] | None = None,
) -> tuple[dict[str, np.ndarray], int]:
    """Parse the ``parsers`` columns of a delimited file, a chunk at a time.

    ``header`` names the columns of a file that has no header line. ``check`` gets each
    parsed chunk and returns ``(bad mask, column, message)`` triples for cross-column rules.
    Returns the parsed columns of the good rows and the number of rows skipped.
    """
    path = Path(path)
    regular_file(path, str(path))
    first_line = 1 if header is None else 0  # line number of the header (0: none)
    try:
        reader = pd.read_csv(
            path,
            sep=sep,
            dtype=str,
            keep_default_na=False,
            header=None if header is not None else "infer",
            names=header,
            skipinitialspace=True,
            skip_blank_lines=False,  # dropped below, so reported line numbers stay true
            encoding_errors="replace",  # a bad byte makes its row malformed, not the file
            chunksize=CHUNK_ROWS,
            on_bad_lines="error",
            engine="c",
        )
        out: dict[str, list[np.ndarray]] = {name: [] for name in parsers}
        problems: list[Problem] = []
        skipped, offset = 0, first_line + 1  # line of the first data row
        for chunk in reader:
            missing = [c for c in parsers if c not in chunk.columns]
            if missing:
                raise ScenarioError(
                    [
                        Problem(
                            str(path),
                            "header",
                            f"missing column(s) {', '.join(missing)}; "
                            f"found {', '.join(map(str, chunk.columns))}",
                            first_line or None,
                        )
                    ]
                )
            blank = (chunk == "").all(axis=1).to_numpy()
            parsed, bad_any = {}, np.zeros(len(chunk), dtype=bool)
            # (bad rows, column, message; "{value}" in it becomes the row's text)
            reasons: list[tuple[np.ndarray, str, str]] = []
            for name, parser in parsers.items():
                values, bad = parser(chunk[name])
                parsed[name] = values
                expects = getattr(parser, "expects", None)
                why = f"{{value!r}} is not {expects}" if expects else "cannot read {value!r}"
                reasons.append((bad & ~blank, name, why))
            reasons += [(b & ~blank, n, m) for b, n, m in (check(parsed) if check else [])]
            for bad, name, message in reasons:
                bad_any |= bad
                if on_error == "raise":
                    for i in np.flatnonzero(bad)[: MAX_REPORTED + 1].tolist():
                        value = chunk[name].iloc[i]
                        problems.append(
                            Problem(
                                str(path),
                                f"column {name}",
                                message.format(value=value),
                                offset + i,
                            )
                        )
            skipped += int(bad_any.sum())
            for name in parsers:
                out[name].append(parsed[name][~bad_any & ~blank])
            offset += len(chunk)
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise ScenarioError([Problem(str(path), "", f"not a readable table: {e}")]) from None
    except pd.errors.EmptyDataError:
        raise ScenarioError([Problem(str(path), "", "the file is empty")]) from None
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        extra = skipped - MAX_REPORTED
        shown = problems[:MAX_REPORTED]
        if extra > 0:
            shown.append(
                Problem(str(path), "", f"... and {extra} more malformed rows (on_error: skip)")
            )
        raise ScenarioError(shown)
    return {k: np.concatenate(v) if v else np.empty(0) for k, v in out.items()}, skipped
