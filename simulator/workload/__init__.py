"""Workloads: synthetic generators (each takes an ``np.random.Generator``) and trace readers."""

from .synthetic import build_jobs

__all__ = ["build_jobs"]
