"""Request traces for inference services: the Azure LLM inference trace.

Must not import: simpy, numba, anything from ``engine``/``policies``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import number, read_columns, timestamp


@dataclass
class Requests:
    """Inference requests: arrival (s after the first), prompt and output tokens."""

    arrival_s: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.arrival_s)


def azure_llm(path: str, on_error: str = "raise") -> Requests:
    """Azure LLM inference trace 2023 (Patel et al., Splitwise, ISCA'24):
    ``TIMESTAMP,ContextTokens,GeneratedTokens``, one row per request. Arrival requests for the
    inference services of elastic-scaling scenarios; ``clustersim trace stats`` reads it."""
    cols, skipped = read_columns(
        path,
        {
            "TIMESTAMP": timestamp(),
            "ContextTokens": number(int),
            "GeneratedTokens": number(int),
        },
        on_error=on_error,
    )
    t = cols["TIMESTAMP"]
    order = np.argsort(t, kind="stable")
    return Requests(
        t[order] - (t[order][0] if len(t) else 0.0),
        cols["ContextTokens"][order],
        cols["GeneratedTokens"][order],
        skipped,
    )
