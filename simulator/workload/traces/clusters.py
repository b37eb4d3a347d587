"""Clusters described by traces: node groups for a scenario's ``cluster`` block.

Must not import: simpy, numba, anything from ``engine``/``policies``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ...scenario.problems import Problem, ScenarioError

# Philly machine list GPU memory -> catalog chip. The trace gives memory sizes only; this is an
# assumption: 12 GB is one K80 die (two per card), 24 GB the Tesla P40 of the same (2016-17)
# generation. Duration-based replays do not depend on it.
PHILLY_CHIPS = {"12GB": "k80", "24GB": "p40"}


def philly_node_groups(path: str | Path, nodes_per_rack: int = 16) -> list[dict]:
    """Node groups of the Philly cluster from its ``cluster_machine_list.csv`` (``machineId,
    number of GPUs, single GPU mem``): one group per (GPUs, memory) kind of machine."""
    try:
        d = pd.read_csv(path, skipinitialspace=True, dtype=str)
        d.columns = [c.strip() for c in d.columns]
        kinds = d.groupby(["number of GPUs", "single GPU mem"]).size()
    except (OSError, KeyError, pd.errors.ParserError) as e:
        raise ScenarioError([Problem(str(path), "", f"not a Philly machine list: {e}")]) from None
    groups = []
    for (gpus, mem), count in kinds.items():
        mem = mem.strip()
        if mem not in PHILLY_CHIPS:
            raise ScenarioError([Problem(str(path), "single GPU mem", f"unknown memory {mem}")])
        groups.append(
            {
                "name": f"{int(gpus)}x{mem.lower()}",
                "node": {"chip": PHILLY_CHIPS[mem], "gpus": int(gpus)},
                "count": int(count),
                "nodes_per_rack": nodes_per_rack,
            }
        )
    return groups


# openb node list GPU model -> catalog chip. G2 and G3 are Alibaba's anonymised models (no
# published specifications): they have no catalog chip and are left out unless mapped.
OPENB_CHIPS = {"A10": "a10", "P100": "p100", "T4": "t4", "V100M16": "v100", "V100M32": "v100"}
# GPU model names in traces' per-job constraints (openb gpu_spec, PAI gpu_type) -> catalog chip.
TRACE_CHIPS = {**OPENB_CHIPS, "V100": "v100"}


def openb_node_groups(
    path: str | Path, chips: dict[str, str] | None = None, nodes_per_rack: int = 16
) -> tuple[list[dict], dict[str, int]]:
    """Node groups of the Alibaba openb inventory (``openb_node_list_gpu_node.csv``: ``sn,
    cpu_milli,memory_mib,gpu,model``), one per (model, GPUs); and the machines left out per
    model that ``chips`` (default :data:`OPENB_CHIPS`) does not map."""
    chips = OPENB_CHIPS if chips is None else chips
    try:
        d = pd.read_csv(path, dtype={"model": str})
        kinds = d.groupby(["model", "gpu"]).size()
    except (OSError, KeyError, pd.errors.ParserError) as e:
        raise ScenarioError([Problem(str(path), "", f"not an openb node list: {e}")]) from None
    groups, left_out = [], {}
    for (model, gpus), count in kinds.items():
        if model not in chips:
            left_out[model] = left_out.get(model, 0) + int(count)
            continue
        groups.append(
            {
                "name": f"{model.lower()}x{int(gpus)}",
                "node": {"chip": chips[model], "gpus": int(gpus)},
                "count": int(count),
                "nodes_per_rack": nodes_per_rack,
            }
        )
    return groups, left_out
