import pytest

from simulator.scenario import catalog

REQUIRED_CHIPS = [
    "k80",
    "p100",
    "v100",
    "t4",
    "a10",
    "a100-40gb",
    "a100-80gb",
    "h100-sxm",
    "h200",
    "b200",
    "mi300x",
    "tpu-v4",
    "tpu-v5e",
]
REQUIRED_NODES = ["dgx-a100", "dgx-h100", "hgx-b200", "g4dn.12xlarge", "tpu-v4-host"]


def test_required_chips_and_an_fpga():
    assert set(REQUIRED_CHIPS) <= set(catalog.CHIPS)
    assert any(c.kind == "fpga" for c in catalog.CHIPS.values())


@pytest.mark.parametrize("name", sorted(catalog.CHIPS))
def test_chip_figures_are_positive_and_cited(name):
    c = catalog.CHIPS[name]
    assert c.source
    for value in (c.peak_fp16_flops, c.peak_fp32_flops, c.tdp_w, c.peak_int8_ops):
        assert value is None or value > 0
    assert c.memory_bytes > 0 and c.memory_bytes_per_s > 0 and c.interconnect_bytes_per_s > 0
    if c.peak_fp16_flops and c.peak_fp32_flops:
        assert c.peak_fp16_flops >= c.peak_fp32_flops  # tensor peak never below vector FP32


def test_datasheet_relations():
    C = catalog.CHIPS
    assert C["h200"].memory_bytes > C["h100-sxm"].memory_bytes
    assert C["h200"].peak_fp16_flops == C["h100-sxm"].peak_fp16_flops
    assert (
        C["b200"].peak_fp16_flops > C["h100-sxm"].peak_fp16_flops > C["a100-80gb"].peak_fp16_flops
    )
    assert C["a100-80gb"].memory_bytes_per_s > C["a100-40gb"].memory_bytes_per_s
    assert C["h100-sxm"].peak_fp16_flops == pytest.approx(989e12)
    assert C["a100-80gb"].interconnect_bytes_per_s == pytest.approx(300e9)  # 600 GB/s bidir


@pytest.mark.parametrize("name", sorted(catalog.NODES))
def test_node_templates_reference_known_chips(name):
    n = catalog.NODES[name]
    assert n.chip in catalog.CHIPS and n.gpus >= 1 and n.nic_bytes_per_s > 0 and n.source


def test_required_nodes_present():
    assert set(REQUIRED_NODES) <= set(catalog.NODES)
    assert catalog.NODES["dgx-h100"].gpus == 8
    assert catalog.NODES["g4dn.12xlarge"].chip == "t4"


def test_unknown_names_suggest_close_matches():
    with pytest.raises(KeyError, match="did you mean 'h100-sxm'"):
        catalog.chip("h100-sx")
    with pytest.raises(KeyError, match="known:"):
        catalog.node_template("nope")
