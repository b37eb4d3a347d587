"""The throughput model against measurements in ../shared/data (errors printed and bounded).

Constants are fitted on A100 only (NCCL all-reduce, Llama-2-70B prefill) and used unchanged
for T4 (AdaptDL step times) and K80/P100/V100 (Gavel throughputs): these tests report how well
that transfers.
"""

import pytest

from simulator.perf import calibrate
from simulator.scenario import catalog

from .conftest import SHARED

PROFILES = SHARED / "data" / "profiles"
NCCL = PROFILES / "nccl" / "a100_dgx" / "all_reduce.csv"


def test_catalog_constants_are_the_fit_of_the_measurements():
    fit = calibrate.fit_collectives(NCCL)
    c = catalog.NCCL_A100
    for field in ("intra_efficiency", "intra_latency_s", "inter_efficiency", "inter_latency_s"):
        assert getattr(c, field) == pytest.approx(getattr(fit, field), rel=1e-3), field
    fraction = calibrate.fit_compute_fraction(PROFILES / "llm_inference" / "perf_model_a100.csv")
    used = catalog.ACHIEVABLE_FLOP_FRACTION
    assert used == pytest.approx(fraction, rel=1e-3)


def test_allreduce_vs_measured_nccl_on_dgx_a100():
    e = calibrate.collective_errors(NCCL, catalog.NCCL_A100, min_bytes=2**20)
    med = e.groupby("inter_node")["rel_error"].agg(lambda x: x.abs().median())
    by_config = e.groupby(["ranks", "per_node"])["rel_error"].agg(lambda x: x.abs().median())
    print(
        f"\nNCCL all-reduce >= 1 MiB, median |relative error|: within a node {med[False]:.1%},"
        f" across nodes {med[True]:.1%}\n{by_config.round(3).to_string()}"
    )
    assert med[False] <= 0.20
    assert med[True] <= 0.30


@pytest.mark.parametrize(
    ("folder", "model", "bound"),
    [
        ("cifar10", "resnet18-cifar10", 0.40),
        ("imagenet", "resnet50", 0.50),
        ("bert", "bert-base-squad", 0.30),
    ],
)
def test_step_and_sync_time_vs_placement_on_t4(folder, model, bound):
    e = calibrate.pollux_errors(PROFILES / "training_step" / folder / "placements.csv", model)
    med = e["step_rel_error"].abs().median()
    sync = e.groupby("placement")[["sync_measured_s", "sync_model_s"]].median()
    print(
        f"\n{folder} ({model}) on 4 x g4dn.12xlarge: step median |relative error| {med:.1%} "
        f"over {len(e)} (placement, batch) points\n"
        f"{sync.loc[['4', '1111', '22']].round(4).to_string()}"
    )
    assert med <= bound
    # consolidated ("4": one node) beats scattered ("1111": four nodes), measured and modelled
    for column in ("sync_measured_s", "sync_model_s"):
        assert sync.loc["4", column] < sync.loc["1111", column]


def test_relative_speed_across_k80_p100_v100():
    r = calibrate.gavel_ratios(PROFILES / "gavel_throughputs" / "simulation_throughputs.json")
    med = r.groupby("ratio")["rel_error"].agg(lambda x: x.abs().median())
    table = r.groupby("ratio")[["measured", "model"]].median()
    print(
        f"\nGavel single-GPU throughput ratios (median over ResNet-18/50 batch sizes):\n"
        f"{table.round(2).to_string()}\nmedian |relative error|: {med.round(3).to_dict()}"
    )
    assert (r["model"] > 1).all() and (r["measured"] > 1).all()  # both rank K80 last
    v100 = r[r["ratio"] == "v100/k80"]["model"].to_numpy()
    p100 = r[r["ratio"] == "p100/k80"]["model"].to_numpy()
    assert (v100 > p100).all()
    assert med.max() <= 0.6  # old GPUs reach less of their peak than the A100 it was fit on
