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

from ..scenario import catalog, zoo
from ..scenario.catalog import ACHIEVABLE_FLOP_FRACTION
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


class LatencyModel:
    """The roofline above for one model on ``tp`` chips of one node, vectorised over batches.

    Built once per service; :meth:`prefill_s` and :meth:`decode_token_s` are what the serving
    engine calls per batch."""

    def __init__(
        self,
        model: str,
        *,
        node: str | None = "dgx-a100",
        chip: str | None = None,
        tp: int = 8,
        memory_fraction: float = MEMORY_FRACTION,
    ):
        spec = zoo.model(model)
        if spec.layers is None or spec.hidden is None:
            raise ValueError(f"{model} is not a transformer language model")
        if tp < 1:
            raise ValueError("tp must be >= 1")
        cluster, ids, counts = hardware(node, tp, 1, chip)
        topo = cluster.topology
        part = catalog.chip(topo.chips[int(topo.node_chip[ids[0]])])
        if part.peak_fp16_flops is None:
            raise ValueError(f"{part.name} publishes no fp16 peak FLOP/s; it cannot serve {model}")
        self.path = comm_path(topo, ids, counts)
        self.flops_s = tp * part.peak_fp16_flops * ACHIEVABLE_FLOP_FRACTION
        self.bytes_s = tp * part.memory_bytes_per_s * memory_fraction
        self.memory_bytes = tp * part.memory_bytes
        self.params, self.layers, self.hidden = spec.params, spec.layers, spec.hidden
        self.kv_hidden = spec.kv_hidden or spec.hidden
        self.weight_bytes = FP16 * spec.params

    def kv_bytes(self, tokens: float) -> float:
        """KV-cache bytes of ``tokens`` tokens of context (keys and values, every layer)."""
        return tokens * 2 * self.layers * self.kv_hidden * FP16

    def prefill_s(self, prompts: np.ndarray) -> tuple[float, bool]:
        """Seconds to prefill one batch of prompts (token counts) together, and whether it
        is compute-bound."""
        p = np.asarray(prompts, dtype=np.float64)
        n, layers, d = self.params, self.layers, self.hidden
        compute = float(np.sum(p * (2 * n + 2 * layers * p * d))) / self.flops_s
        memory = self.weight_bytes / self.bytes_s
        comm = 2 * layers * allreduce_s(float(p.sum()) * d * FP16, self.path)
        return max(compute, memory) + comm, compute >= memory

    def decode_token_s(self, batch: int, context: float) -> tuple[float, bool]:
        """Seconds per decode step of ``batch`` requests with ``context`` tokens each on
        average, and whether it is compute-bound."""
        n, layers, d = self.params, self.layers, self.hidden
        compute = batch * (2 * n + 4 * layers * context * d) / self.flops_s
        memory = (self.weight_bytes + batch * self.kv_bytes(context)) / self.bytes_s
        comm = 2 * layers * allreduce_s(batch * d * FP16, self.path)
        return max(compute, memory) + comm, compute >= memory


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
    if min(tp, prompt, batch) < 1 or output < 0:
        raise ValueError("tp, prompt and batch must be >= 1 and output >= 0")
    lat = LatencyModel(model, node=node, chip=chip, tp=tp, memory_fraction=memory_fraction)
    need = lat.weight_bytes + batch * lat.kv_bytes(prompt + output)
    if need > lat.memory_bytes:
        raise ValueError(
            f"{model} with {batch} x {prompt + output} tokens of KV cache needs "
            f"{need / 2**30:,.1f} GiB but {tp} devices hold {lat.memory_bytes / 2**30:,.1f} GiB; "
            "raise --tp or lower --batch, --prompt or --output"
        )
    prefill, prefill_compute = lat.prefill_s(np.full(batch, prompt))
    decode, decode_compute = lat.decode_token_s(batch, prompt + output / 2)
    return InferenceTime(
        prefill,
        decode,
        prefill + output * decode,
        "compute" if prefill_compute else "memory",
        "compute" if decode_compute else "memory",
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
