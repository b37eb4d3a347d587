"""The LLM inference latency model against the measured A100 latencies (Splitwise).

Fitted on Llama-2-70B (the FLOP fraction on its prefill, the memory fraction on its decode);
BLOOM-176B in the same file is held out from both fits."""

import json

import pandas as pd
import pytest

from simulator.cli import main
from simulator.perf.inference import MEMORY_FRACTION, fit_memory_fraction, infer

from .conftest import SHARED

CSV = SHARED / "data/profiles/llm_inference/perf_model_a100.csv"
KEYS = ["model", "tensor_parallel", "prompt_size", "batch_size", "token_size"]


@pytest.fixture(scope="module")
def errors():
    d = (
        pd.read_csv(CSV)
        .groupby(KEYS, as_index=False)[["prompt_time", "token_time", "e2e_time"]]
        .median()
    )
    rows = []
    for r in d.itertuples(index=False):
        t = infer(
            r.model,
            node="dgx-a100",
            tp=r.tensor_parallel,
            prompt=r.prompt_size,
            batch=r.batch_size,
            output=r.token_size,
        )
        # the file's own e2e is prefill + output x token time only up to ~512 tokens (longer
        # generations stopped early): compare e2e where the measurement is self-consistent
        consistent = abs(r.e2e_time - r.prompt_time - r.token_size * r.token_time) < (
            0.05 * r.e2e_time
        )
        rows.append(
            {
                "model": r.model,
                "tp": r.tensor_parallel,
                "prefill": abs(t.prefill_s / (r.prompt_time / 1e3) - 1),
                "decode": abs(t.decode_token_s / (r.token_time / 1e3) - 1),
                "e2e": abs(t.e2e_s / (r.e2e_time / 1e3) - 1) if consistent else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def test_memory_fraction_is_the_fit_to_the_llama_decode_times():
    assert fit_memory_fraction(str(CSV)) == MEMORY_FRACTION


def test_held_out_bloom_176b_is_predicted(errors):
    bloom = errors[errors["model"] == "bloom-176b"].median(numeric_only=True)
    assert bloom["prefill"] < 0.25 and bloom["decode"] < 0.15 and bloom["e2e"] < 0.20


def test_llama_tp4_decode_and_the_known_tp8_miss(errors):
    llama = errors[errors["model"] == "llama2-70b"].groupby("tp").median(numeric_only=True)
    assert llama.loc[4, "decode"] < 0.10
    # measured decode barely speeds up from tp 4 to tp 8 (a per-token floor of ~45 ms the
    # roofline does not have): the model is ~50% too fast there; recorded, not tuned away
    assert 0.3 < llama.loc[8, "decode"] < 0.7


def test_prefill_is_compute_bound_and_decode_memory_bound_and_grows_with_batch():
    t1 = infer("llama2-70b", tp=8, prompt=2048, batch=1, output=128)
    t8 = infer("llama2-70b", tp=8, prompt=2048, batch=8, output=128)
    assert (t1.prefill_bound, t1.decode_bound) == ("compute", "memory")
    assert t8.prefill_s == pytest.approx(8 * t1.prefill_s, rel=0.05)  # compute scales
    assert t1.decode_token_s < t8.decode_token_s < 2 * t1.decode_token_s  # weights shared
    assert t1.e2e_s == pytest.approx(t1.prefill_s + 128 * t1.decode_token_s)


def test_perf_infer_command_prints_the_three_times(capsys):
    args = [
        "perf",
        "infer",
        "--model",
        "llama2-70b",
        "--node",
        "dgx-a100",
        "--tp",
        "8",
        "--prompt",
        "512",
        "--batch",
        "8",
        "--output",
        "128",
        "--json",
    ]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    t = infer("llama2-70b", node="dgx-a100", tp=8, prompt=512, batch=8, output=128)
    assert out["prefill_s"] == t.prefill_s and out["decode_token_s"] == t.decode_token_s
    assert out["e2e_s"] == t.e2e_s
