"""Step-time model of data/tensor/pipeline-parallel training (analytic).

Per step and per GPU, with local batch ``b = global_batch / dp``:

    flops_s   = b x flops_per_sample / (tp x pp) / (peak x achievable_fraction)
    memory_s  = (grad_params / (tp x pp) x optimizer_bytes + 2 x b x activation_bytes / tp)
                / mem_bw      (sharded embedding tables are not swept every step)
    compute_s = max(flops_s, memory_s)                       (roofline)
              + tp_comm_s  (Megatron: 4 all-reduces of b x seq x hidden x 2 B per layer, in-node)
              + bubble     (pipeline: compute x (pp - 1) / microbatches)
    comm_s    = all-reduce of grad_params / (tp x pp) x grad_bytes over the DP ring
    exposed_s = comm_s - overlap x min(comm_s, compute_s)
    time_s    = compute_s + exposed_s

``peak`` is the dense FP16/BF16 peak for ``mixed`` precision and the FP32 peak for ``fp32``;
with several chip types the slowest one sets the pace. ``overlap`` (0..1) is the fraction of
the all-reduce hidden behind the backward pass (0 matches the measured AdaptDL steps, where
step = compute + sync).

Must not import: simpy, numba.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..scenario.catalog import ACHIEVABLE_FLOP_FRACTION, Chip
from ..scenario.zoo import ModelSpec
from .collectives import CommPath, allreduce_s

PRECISIONS = ("mixed", "fp32")
# Estimated HBM traffic per parameter per step (weights read forward and backward, gradients
# written and read, optimizer state read and written): mixed-precision Adam keeps fp16 weights
# and gradients plus fp32 master weights and two moments; fp32 SGD with momentum.
OPTIMIZER_BYTES = {"mixed": 34.0, "fp32": 24.0}
GRAD_BYTES = {"mixed": 2.0, "fp32": 4.0}
# Checkpoint size per parameter: weights plus Adam state (fp32 master copy and two moments for
# mixed precision, 2 + 12 B, as counted in ZeRO, Rajbhandari et al. 2020; 4 + 8 B in fp32).
CHECKPOINT_BYTES = {"mixed": 14.0, "fp32": 12.0}


def checkpoint_bytes(model: ModelSpec, precision: str = "mixed") -> float:
    """Bytes of a training checkpoint of ``model`` (weights + optimizer state)."""
    return model.params * CHECKPOINT_BYTES[precision]


@dataclass(frozen=True)
class Parallelism:
    """Degrees of parallelism: ``dp x tp x pp`` GPUs."""

    dp: int
    tp: int = 1
    pp: int = 1
    microbatches: int | None = None  # pipeline micro-batches per step (default 4 x pp)

    @property
    def gpus(self) -> int:
        return self.dp * self.tp * self.pp


@dataclass(frozen=True)
class StepBreakdown:
    """Seconds per training step and their parts."""

    flops_s: float
    memory_s: float
    tp_comm_s: float
    bubble_s: float
    compute_s: float
    comm_s: float
    exposed_comm_s: float
    time_s: float

    def as_dict(self) -> dict[str, float]:
        return dict(vars(self))


def effective_peak(chips: list[Chip], precision: str) -> float:
    """The slowest chip's usable FLOP/s for ``precision``."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    peaks = []
    for c in chips:
        peak = c.peak_fp16_flops if precision == "mixed" else c.peak_fp32_flops
        if peak is None:
            raise ValueError(
                f"{c.name} publishes no {precision} peak FLOP/s; it cannot run this step model"
            )
        peaks.append(peak)
    return min(peaks) * ACHIEVABLE_FLOP_FRACTION


def step_time(
    model: ModelSpec,
    global_batch: float,
    chips: list[Chip],
    par: Parallelism,
    dp_path: CommPath,
    tp_path: CommPath | None = None,
    *,
    precision: str = "mixed",
    overlap: float = 0.0,
    algorithm: str = "auto",
) -> StepBreakdown:
    """Seconds per step of ``model`` on GPUs of types ``chips`` (see the module docstring).

    Args:
        dp_path: the data-parallel ring (its ``ranks`` is used as given).
        tp_path: the in-node path of one tensor-parallel group (needed when ``tp > 1``).
    """
    if not 0.0 <= overlap <= 1.0:
        raise ValueError(f"overlap must be in [0, 1], got {overlap}")
    shards = par.tp * par.pp
    local_batch = global_batch / par.dp
    flops_s = local_batch * model.flops_per_sample / shards / effective_peak(chips, precision)
    mem_bw = min(c.memory_bytes_per_s for c in chips)
    memory_s = (
        model.allreduce_params / shards * OPTIMIZER_BYTES[precision]
        + 2 * local_batch * model.activation_bytes_per_sample / par.tp
    ) / mem_bw
    core = max(flops_s, memory_s)
    tp_comm_s = 0.0
    if par.tp > 1:
        if tp_path is None or model.hidden is None:
            raise ValueError("tensor parallelism needs a tp_path and a transformer model")
        size = local_batch / par.pp * (model.seq_len or 1) * model.hidden * 2.0
        layers = (model.layers or 1) / par.pp
        tp_comm_s = 4 * layers * allreduce_s(size, tp_path, algorithm)
    bubble_s = 0.0
    if par.pp > 1:
        micro = par.microbatches or 4 * par.pp
        bubble_s = (core + tp_comm_s) * (par.pp - 1) / micro
    compute_s = core + tp_comm_s + bubble_s
    grad = model.allreduce_params / shards * GRAD_BYTES[precision]
    comm_s = allreduce_s(grad, dp_path, algorithm)
    exposed = comm_s - overlap * min(comm_s, compute_s)
    return StepBreakdown(
        flops_s, memory_s, tp_comm_s, bubble_s, compute_s, comm_s, exposed, compute_s + exposed
    )
