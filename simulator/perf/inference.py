"""LLM inference latency: a roofline model of prefill and decode with tensor parallelism.

For a batch of ``b`` requests of ``p`` prompt tokens on ``tp`` chips of one node (fp16
weights and KV cache, N parameters, L layers, width d, KV width d_kv)::

    prefill_s      = max(b p (2 N + 2 L p d) / (tp peak f),  2 N / (tp bw m))  + 2 L AR(b p d 2 B)
    decode_token_s = max(b (2 N + 4 L c d) / (tp peak f),
                         (2 N + b c 2 L d_kv 2 B) / (tp bw m))                 + 2 L AR(b d 2 B)
    e2e_s          = prefill_s + output x decode_token_s

``f`` is the catalog's achievable FLOP fraction (fitted on Llama-2-70B prefill), ``m`` the
achievable fraction of memory bandwidth (:data:`MEMORY_FRACTION`, fitted on Llama-2-70B
decode), ``c = p + output / 2`` the mean context while decoding, ``AR`` the modelled NCCL
all-reduce inside the node (two per layer, Megatron tensor parallelism). Prefill is
compute-bound, decode memory-bound (weights plus KV cache read once per token), both
batch-dependent. BLOOM-176B in the same file is held out from both fits.

Must not import: simpy, numba.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..spec import catalog, zoo
from ..spec.catalog import ACHIEVABLE_FLOP_FRACTION
from .collectives import allreduce_s, comm_path
from .query import hardware

FP16 = 2.0  # bytes per weight / activation / KV element

# Achievable fraction of HBM bandwidth in decode. Fitted by fit_memory_fraction on the
# Llama-2-70B decode times (tp 2, 4, 8) of shared/data/profiles/llm_inference/
# perf_model_a100.csv (Splitwise); tests/test_inference.py re-fits it and checks BLOOM-176B.
MEMORY_FRACTION = 0.4294


@dataclass(frozen=True)
class InferenceTime:
    prefill_s: float
    decode_token_s: float
    e2e_s: float
    prefill_bound: str  # "compute" or "memory"
    decode_bound: str

    def as_dict(self) -> dict:
        return asdict(self)


def infer(
    model: str,
    *,
    node: str | None = "dgx-a100",
    chip: str | None = None,
    tp: int = 8,
    prompt: int = 512,
    batch: int = 1,
    output: int = 128,
    memory_fraction: float = MEMORY_FRACTION,
) -> InferenceTime:
    """Modelled prefill, per-token decode and end-to-end time of one batch of requests."""
    spec = zoo.model(model)
    if spec.layers is None or spec.hidden is None:
        raise ValueError(f"{model} is not a transformer language model")
    if min(tp, prompt, batch) < 1 or output < 0:
        raise ValueError("tp, prompt and batch must be >= 1 and output >= 0")
    cluster, ids, counts = hardware(node, tp, 1, chip)
    topo = cluster.topology
    part = catalog.chip(topo.chips[int(topo.node_chip[ids[0]])])
    path = comm_path(topo, ids, counts)
    flops_s = tp * part.peak_fp16_flops * ACHIEVABLE_FLOP_FRACTION
    bytes_s = tp * part.memory_bytes_per_s * memory_fraction
    n, layers, d = spec.params, spec.layers, spec.hidden
    kv = spec.kv_hidden or d
    weights = FP16 * n

    tokens = batch * prompt
    compute = tokens * (2 * n + 2 * layers * prompt * d) / flops_s
    memory = weights / bytes_s
    prefill = max(compute, memory) + 2 * layers * allreduce_s(tokens * d * FP16, path)

    context = prompt + output / 2
    compute_t = batch * (2 * n + 4 * layers * context * d) / flops_s
    memory_t = (weights + batch * context * 2 * layers * kv * FP16) / bytes_s
    decode = max(compute_t, memory_t) + 2 * layers * allreduce_s(batch * d * FP16, path)
    return InferenceTime(
        prefill,
        decode,
        prefill + output * decode,
        "compute" if compute >= memory else "memory",
        "compute" if compute_t >= memory_t else "memory",
    )


def fit_memory_fraction(path: str, model: str = "llama2-70b", node: str = "dgx-a100") -> float:
    """The ``memory_fraction`` that makes the modelled decode times match the measured ones
    (median ratio over the file's rows for ``model``; decode time is inversely proportional
    to it wherever decode is memory-bound and communication is small)."""
    import pandas as pd

    d = pd.read_csv(path)
    d = d[d["model"] == model]
    ratios = []
    for row in d.itertuples(index=False):
        t = infer(
            model,
            node=node,
            tp=int(row.tensor_parallel),
            prompt=int(row.prompt_size),
            batch=int(row.batch_size),
            output=int(row.token_size),
            memory_fraction=1.0,
        )
        if t.decode_bound == "memory":
            ratios.append(t.decode_token_s / (row.token_time / 1e3))
    return round(float(np.median(ratios)), 4)
