"""Output schema (single source of truth), table builders and the run summary."""

from .levels import time_weighted_mean
from .schema import JOB_COLUMNS, SERIES_COLUMNS, SERIES_METRICS, SUMMARY_KEYS
from .summary import jobs_table, series_table, summarize

__all__ = [
    "JOB_COLUMNS",
    "SERIES_COLUMNS",
    "SERIES_METRICS",
    "SUMMARY_KEYS",
    "jobs_table",
    "series_table",
    "summarize",
    "time_weighted_mean",
]
