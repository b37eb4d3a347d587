"""Hardware presets as data: accelerator chips, node templates and link types.

Role: the datasheet figures every other layer reads (peak FLOP/s, memory, bandwidths, power).
All values are SI (FLOP/s, bytes, bytes/s, W). Each figure carries its source in a comment;
``None`` means the vendor does not publish that figure (we never invent one).

Conventions:
- ``peak_fp16_flops`` is the dense (no sparsity) FP16/BF16 tensor-core / matrix-unit peak.
- ``peak_fp32_flops`` is the non-tensor FP32 peak (CUDA cores / vector units).
- ``interconnect_bytes_per_s`` is the chip's intra-node link bandwidth *per direction*
  (datasheets quote NVLink / Infinity Fabric / ICI as a bidirectional total; we halve it).
- Node ``nic_bytes_per_s`` is the aggregate scale-out bandwidth of the node's compute NICs, per
  direction.

Must not import: simpy, numba, networkx.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from typing import Literal

T = 1e12
GB = 1e9
GiB = 2.0**30
Gbps = 1e9 / 8


@dataclass(frozen=True)
class Chip:
    """One accelerator (GPU die, TPU chip or FPGA card) as its datasheet describes it."""

    name: str
    vendor: str
    kind: Literal["gpu", "tpu", "fpga"]
    peak_fp16_flops: float | None
    peak_fp32_flops: float | None
    memory_bytes: float
    memory_bytes_per_s: float
    tdp_w: float | None
    interconnect: str
    interconnect_bytes_per_s: float
    peak_int8_ops: float | None = None
    source: str = ""
    idle_w: float | None = None  # power at 0 % utilisation (see _IDLE_W)
    mtbf_h: float | None = None  # mean hours between failures of one device (see MTBF_H)


@dataclass(frozen=True)
class NodeTemplate:
    """A server model: how many chips of which kind, its aggregate scale-out NIC bandwidth and
    the number of NICs that bandwidth is split over (one per GPU on DGX-class nodes)."""

    name: str
    chip: str
    gpus: int
    nic_bytes_per_s: float
    source: str = ""
    nics: int = 1
    host_mtbf_h: float | None = None  # mean hours between host failures (see MTBF_H)


@dataclass(frozen=True)
class LinkType:
    """A network link technology (per direction bandwidth, one-hop latency)."""

    name: str
    bytes_per_s: float
    latency_s: float
    source: str = ""


CHIPS: dict[str, Chip] = {
    c.name: c
    for c in [
        # NVIDIA Tesla K80 datasheet (2014): per board 8.73 TFLOPS FP32 boost, 24 GB GDDR5,
        # 480 GB/s, 300 W, two GK210 dies. One "K80 GPU" in schedulers (Gavel, Philly) is one
        # die, so every figure is halved. Kepler has no fast FP16: FP16 peak = FP32 peak.
        Chip(
            name="k80",
            vendor="nvidia",
            kind="gpu",
            peak_fp16_flops=4.37 * T,
            peak_fp32_flops=4.37 * T,
            memory_bytes=12 * GB,
            memory_bytes_per_s=240 * GB,
            tdp_w=150.0,
            interconnect="pcie3",
            interconnect_bytes_per_s=16 * GB,
            source="NVIDIA Tesla K80 datasheet, per GK210 die",
        ),
        # NVIDIA Tesla P40 datasheet (2016): FP32 12 TFLOPS boost, INT8 47 TOPS, 24 GB GDDR5 at
        # 346 GB/s, 250 W, PCIe Gen3 x16. GP102 has no fast FP16: FP16 peak = FP32 peak.
        # The 24 GB GPUs of the Philly cluster's 8-GPU machines.
        Chip(
            name="p40",
            vendor="nvidia",
            kind="gpu",
            peak_fp16_flops=12 * T,
            peak_fp32_flops=12 * T,
            memory_bytes=24 * GB,
            memory_bytes_per_s=346 * GB,
            tdp_w=250.0,
            interconnect="pcie3",
            interconnect_bytes_per_s=16 * GB,
            source="NVIDIA Tesla P40 datasheet",
        ),
        # NVIDIA Tesla P100 PCIe datasheet: FP16 18.7 TFLOPS, FP32 9.3 TFLOPS, 16 GB CoWoS HBM2
        # at 732 GB/s, 250 W, PCIe Gen3 x16 (32 GB/s bidirectional).
        Chip(
            name="p100",
            vendor="nvidia",
            kind="gpu",
            peak_fp16_flops=18.7 * T,
            peak_fp32_flops=9.3 * T,
            memory_bytes=16 * GB,
            memory_bytes_per_s=732 * GB,
            tdp_w=250.0,
            interconnect="pcie3",
            interconnect_bytes_per_s=16 * GB,
            source="NVIDIA Tesla P100 PCIe datasheet",
        ),
        # NVIDIA Tesla V100 SXM2 datasheet: tensor 125 TFLOPS, FP32 15.7 TFLOPS, 16 GB HBM2
        # at 900 GB/s, 300 W, NVLink 2 300 GB/s bidirectional.
        Chip(
            name="v100",
            vendor="nvidia",
            kind="gpu",
            peak_fp16_flops=125 * T,
            peak_fp32_flops=15.7 * T,
            memory_bytes=16 * GB,
            memory_bytes_per_s=900 * GB,
            tdp_w=300.0,
            interconnect="nvlink2",
            interconnect_bytes_per_s=150 * GB,
            source="NVIDIA V100 SXM2 datasheet",
        ),
        # NVIDIA T4 datasheet: FP16 tensor 65 TFLOPS, FP32 8.1 TFLOPS, INT8 130 TOPS,
        # 16 GB GDDR6 at 320 GB/s, 70 W, PCIe Gen3 x16.
        Chip(
            name="t4",
            vendor="nvidia",
            kind="gpu",
            peak_fp16_flops=65 * T,
            peak_fp32_flops=8.1 * T,
            memory_bytes=16 * GB,
            memory_bytes_per_s=320 * GB,
            tdp_w=70.0,
            interconnect="pcie3",
            interconnect_bytes_per_s=16 * GB,
            peak_int8_ops=130 * T,
            source="NVIDIA T4 datasheet",
        ),
        # NVIDIA A10 datasheet: FP16/BF16 tensor 125 TFLOPS dense (250 sparse), FP32 31.2
        # TFLOPS, 24 GB GDDR6 at 600 GB/s, 150 W, PCIe Gen4 x16 (64 GB/s bidirectional).
        Chip(
            name="a10",
            vendor="nvidia",
            kind="gpu",
            peak_fp16_flops=125 * T,
            peak_fp32_flops=31.2 * T,
            memory_bytes=24 * GB,
            memory_bytes_per_s=600 * GB,
            tdp_w=150.0,
            interconnect="pcie4",
            interconnect_bytes_per_s=32 * GB,
            peak_int8_ops=250 * T,
            source="NVIDIA A10 datasheet",
        ),
        # NVIDIA A100 datasheet (SXM): BF16 312 TFLOPS dense, FP32 19.5 TFLOPS, 40 GB HBM2
        # at 1,555 GB/s, 400 W, NVLink 3 600 GB/s bidirectional.
        Chip(
            name="a100-40gb",
            vendor="nvidia",
            kind="gpu",
            peak_fp16_flops=312 * T,
            peak_fp32_flops=19.5 * T,
            memory_bytes=40 * GB,
            memory_bytes_per_s=1555 * GB,
            tdp_w=400.0,
            interconnect="nvlink3",
            interconnect_bytes_per_s=300 * GB,
            peak_int8_ops=624 * T,
            source="NVIDIA A100 datasheet, SXM",
        ),
        # NVIDIA A100 80GB datasheet (SXM): same compute, 80 GB HBM2e at 2,039 GB/s, 400 W.
        Chip(
            name="a100-80gb",
            vendor="nvidia",
            kind="gpu",
            peak_fp16_flops=312 * T,
            peak_fp32_flops=19.5 * T,
            memory_bytes=80 * GB,
            memory_bytes_per_s=2039 * GB,
            tdp_w=400.0,
            interconnect="nvlink3",
            interconnect_bytes_per_s=300 * GB,
            peak_int8_ops=624 * T,
            source="NVIDIA A100 datasheet, SXM",
        ),
        # NVIDIA H100 datasheet (SXM5): BF16 989 TFLOPS dense (1,979 sparse), FP32 67 TFLOPS,
        # 80 GB HBM3 at 3.35 TB/s, up to 700 W, NVLink 4 900 GB/s bidirectional.
        Chip(
            name="h100-sxm",
            vendor="nvidia",
            kind="gpu",
            peak_fp16_flops=989 * T,
            peak_fp32_flops=67 * T,
            memory_bytes=80 * GB,
            memory_bytes_per_s=3350 * GB,
            tdp_w=700.0,
            interconnect="nvlink4",
            interconnect_bytes_per_s=450 * GB,
            peak_int8_ops=1979 * T,
            source="NVIDIA H100 datasheet, SXM",
        ),
        # NVIDIA H200 datasheet (SXM): H100 compute, 141 GB HBM3e at 4.8 TB/s, up to 700 W,
        # NVLink 900 GB/s bidirectional.
        Chip(
            name="h200",
            vendor="nvidia",
            kind="gpu",
            peak_fp16_flops=989 * T,
            peak_fp32_flops=67 * T,
            memory_bytes=141 * GB,
            memory_bytes_per_s=4800 * GB,
            tdp_w=700.0,
            interconnect="nvlink4",
            interconnect_bytes_per_s=450 * GB,
            peak_int8_ops=1979 * T,
            source="NVIDIA H200 datasheet, SXM",
        ),
        # NVIDIA HGX B200 (Blackwell datasheet, 1,000 W configuration): FP16/BF16 2.25 PFLOPS
        # dense, FP32 75 TFLOPS, 180 GB HBM3e at 8 TB/s (DGX B200: 1,440 GB / 64 TB/s for
        # 8 GPUs), NVLink 5 1.8 TB/s bidirectional.
        Chip(
            name="b200",
            vendor="nvidia",
            kind="gpu",
            peak_fp16_flops=2250 * T,
            peak_fp32_flops=75 * T,
            memory_bytes=180 * GB,
            memory_bytes_per_s=8000 * GB,
            tdp_w=1000.0,
            interconnect="nvlink5",
            interconnect_bytes_per_s=900 * GB,
            peak_int8_ops=4500 * T,
            source="NVIDIA HGX B200 datasheet",
        ),
        # AMD Instinct MI300X datasheet: FP16/BF16 1,307.4 TFLOPS dense, FP32 vector 163.4
        # TFLOPS, 192 GB HBM3 at 5.3 TB/s, 750 W, Infinity Fabric 896 GB/s (7 x 128 GB/s).
        Chip(
            name="mi300x",
            vendor="amd",
            kind="gpu",
            peak_fp16_flops=1307.4 * T,
            peak_fp32_flops=163.4 * T,
            memory_bytes=192 * GB,
            memory_bytes_per_s=5300 * GB,
            tdp_w=750.0,
            interconnect="infinity-fabric",
            interconnect_bytes_per_s=448 * GB,
            peak_int8_ops=2614.9 * T,
            source="AMD Instinct MI300X datasheet",
        ),
        # Google Cloud TPU v4 system architecture page: 275 TFLOPS bf16, 32 GiB HBM2 at
        # 1,200 GB/s, 6 ICI ports (2,400 Gbps per chip); measured max power 192 W. No FP32 peak
        # is published (the MXU is bf16; fp32 matmul is emulated).
        Chip(
            name="tpu-v4",
            vendor="google",
            kind="tpu",
            peak_fp16_flops=275 * T,
            peak_fp32_flops=None,
            memory_bytes=32 * GiB,
            memory_bytes_per_s=1200 * GB,
            tdp_w=192.0,
            interconnect="ici",
            interconnect_bytes_per_s=2400 * Gbps / 2,
            source="Google Cloud TPU v4 documentation",
        ),
        # Google Cloud TPU v5e page: 197 TFLOPS bf16, 393 TOPS int8, 16 GB HBM2 at 819 GB/s,
        # ICI 400 GB/s bidirectional per chip (4 ports). No FP32 peak or TDP published.
        Chip(
            name="tpu-v5e",
            vendor="google",
            kind="tpu",
            peak_fp16_flops=197 * T,
            peak_fp32_flops=None,
            memory_bytes=16 * GB,
            memory_bytes_per_s=819 * GB,
            tdp_w=None,
            interconnect="ici",
            interconnect_bytes_per_s=200 * GB,
            peak_int8_ops=393 * T,
            source="Google Cloud TPU v5e documentation",
        ),
        # AMD (Xilinx) Alveo U280 product brief / UG1314: 8 GB HBM2 at 460 GB/s, INT8 24.5 TOPS,
        # 225 W maximum, PCIe Gen3 x16. Floating-point peaks depend on the loaded design and
        # are not published.
        Chip(
            name="alveo-u280",
            vendor="amd-xilinx",
            kind="fpga",
            peak_fp16_flops=None,
            peak_fp32_flops=None,
            memory_bytes=8 * GB,
            memory_bytes_per_s=460 * GB,
            tdp_w=225.0,
            interconnect="pcie3",
            interconnect_bytes_per_s=16 * GB,
            peak_int8_ops=24.5 * T,
            source="AMD Alveo U280 product brief",
        ),
    ]
}

# Idle power per chip (W, 0 % utilisation), from the Cloud Carbon Footprint methodology,
# Appendix III "GPUs and min/max watts" (Teads' AWS EC2 dataset, which scales TechPowerUp board
# power by the idle/peak ratio Teads measured on bare-metal instances): T4 8, Tesla K80 35 per
# two-die board (17.5 per die here), P40 30, P100 36, V100 35, A100 46, A10G 18 (used for the
# A10). Chips not in that table get their TDP times the table's idle/peak ratio, 35/306, as
# CCF itself does for GPUs Teads did not list; override with ``power.idle`` on a node group.
_IDLE_W = {
    "t4": 8.0,
    "k80": 17.5,
    "p40": 30.0,
    "p100": 36.0,
    "v100": 35.0,
    "a100-40gb": 46.0,
    "a100-80gb": 46.0,
    "a10": 18.0,
}
IDLE_RATIO = 35.0 / 306.0


def _idle_w(chip: Chip) -> float | None:
    if chip.name in _IDLE_W:
        return _IDLE_W[chip.name]
    return None if chip.tdp_w is None else round(chip.tdp_w * IDLE_RATIO, 1)


CHIPS = {name: replace(c, idle_w=_idle_w(c)) for name, c in CHIPS.items()}

# Cited failure rates (``failures.<class>.mtbf: catalog``), in mean hours between failures:
# - H100 GPUs and DGX H100 hosts: Meta's Llama 3 405B run, 419 unexpected interruptions in 54
#   days on 16,384 H100 in 2,048 hosts (Dubey et al. 2024, "The Llama 3 Herd of Models",
#   table 5). The 246 GPU faults (faulty GPU, HBM3, SRAM, GPU system processor, silent data
#   corruption, thermal interface) give a GPU 16,384 x 1,296 h / 246; the other 173 (software,
#   network, host maintenance, NIC, SSD, power, CPU, memory, ...) are put on the hosts:
#   2,048 x 1,296 h / 173.
# - DGX A100 hosts: Meta's RSC-1 research cluster, 6.50 failures per 1,000 node-days over 11
#   months of A100 nodes (Kokolis et al., HPCA 2025, arXiv 2410.21680), every cause counted on
#   the node (its GPUs included).
MTBF_H = {
    "h100-sxm": 16384 * 54 * 24 / 246,
    "dgx-h100": 2048 * 54 * 24 / 173,
    "dgx-a100": 1000 / 6.50 * 24,
}
CHIPS = {name: replace(c, mtbf_h=MTBF_H.get(name)) for name, c in CHIPS.items()}

NODES: dict[str, NodeTemplate] = {
    n.name: n
    for n in [
        # NVIDIA DGX A100 640GB user guide: 8x A100 80GB, 8x ConnectX-6 200 Gb/s for compute.
        NodeTemplate(
            name="dgx-a100",
            chip="a100-80gb",
            gpus=8,
            nic_bytes_per_s=8 * 200 * Gbps,
            source="NVIDIA DGX A100 user guide",
            nics=8,
        ),
        # Original DGX A100 (320 GB): 8x A100 40GB, same networking.
        NodeTemplate(
            name="dgx-a100-320gb",
            chip="a100-40gb",
            gpus=8,
            nic_bytes_per_s=8 * 200 * Gbps,
            source="NVIDIA DGX A100 user guide",
            nics=8,
        ),
        # NVIDIA DGX H100 user guide: 8x H100 SXM, 8x ConnectX-7 400 Gb/s (OSFP) for compute.
        NodeTemplate(
            name="dgx-h100",
            chip="h100-sxm",
            gpus=8,
            nic_bytes_per_s=8 * 400 * Gbps,
            source="NVIDIA DGX H100 user guide",
            nics=8,
        ),
        # NVIDIA DGX H200: 8x H200, 8x ConnectX-7 400 Gb/s.
        NodeTemplate(
            name="dgx-h200",
            chip="h200",
            gpus=8,
            nic_bytes_per_s=8 * 400 * Gbps,
            source="NVIDIA DGX H200 datasheet",
            nics=8,
        ),
        # NVIDIA HGX/DGX B200: 8x B200, 8x ConnectX-7 400 Gb/s.
        NodeTemplate(
            name="hgx-b200",
            chip="b200",
            gpus=8,
            nic_bytes_per_s=8 * 400 * Gbps,
            source="NVIDIA DGX B200 datasheet",
            nics=8,
        ),
        # AMD Instinct MI300X platform: 8x MI300X OAM; typical builds use 8x 400 Gb/s NICs.
        NodeTemplate(
            name="mi300x-platform",
            chip="mi300x",
            gpus=8,
            nic_bytes_per_s=8 * 400 * Gbps,
            source="AMD Instinct MI300X platform brief",
            nics=8,
        ),
        # AWS EC2 g4dn.12xlarge: 4x T4, 50 Gbps networking.
        NodeTemplate(
            name="g4dn.12xlarge",
            chip="t4",
            gpus=4,
            nic_bytes_per_s=50 * Gbps,
            source="AWS EC2 G4 instance page",
        ),
        # AWS EC2 p3.16xlarge: 8x V100 16GB (NVLink), 25 Gbps networking.
        NodeTemplate(
            name="p3.16xlarge",
            chip="v100",
            gpus=8,
            nic_bytes_per_s=25 * Gbps,
            source="AWS EC2 P3 instance page",
        ),
        # AWS EC2 p4d.24xlarge: 8x A100 40GB, 400 Gbps EFA.
        NodeTemplate(
            name="p4d.24xlarge",
            chip="a100-40gb",
            gpus=8,
            nic_bytes_per_s=400 * Gbps,
            source="AWS EC2 P4 instance page",
            nics=4,
        ),
        # AWS EC2 p5.48xlarge: 8x H100, 3,200 Gbps EFA.
        NodeTemplate(
            name="p5.48xlarge",
            chip="h100-sxm",
            gpus=8,
            nic_bytes_per_s=3200 * Gbps,
            source="AWS EC2 P5 instance page",
            nics=8,
        ),
        # Google Cloud TPU v4 VM host: 4 chips per host; DCN bandwidth per host not published,
        # 100 Gbps assumed (same NIC class as the v5e host).
        NodeTemplate(
            name="tpu-v4-host",
            chip="tpu-v4",
            gpus=4,
            nic_bytes_per_s=100 * Gbps,
            source="Google Cloud TPU v4 docs",
        ),
        # Google Cloud TPU v5e host: 8 chips, 2x 100 Gbps NICs.
        NodeTemplate(
            name="tpu-v5e-host",
            chip="tpu-v5e",
            gpus=8,
            nic_bytes_per_s=200 * Gbps,
            source="Google Cloud TPU v5e docs",
            nics=2,
        ),
        # A generic 2U server with 4 Alveo U280 cards and a 100 Gb/s NIC.
        NodeTemplate(
            name="alveo-u280-server",
            chip="alveo-u280",
            gpus=4,
            nic_bytes_per_s=100 * Gbps,
            source="illustrative build",
        ),
    ]
}
NODES = {name: replace(n, host_mtbf_h=MTBF_H.get(name)) for name, n in NODES.items()}

LINKS: dict[str, LinkType] = {
    lk.name: lk
    for lk in [
        # PCI-SIG: PCIe 3.0 x16 ~15.75 GB/s, 4.0 x16 ~31.5 GB/s per direction.
        LinkType(
            name="pcie3",
            bytes_per_s=16 * GB,
            latency_s=1e-6,
            source="PCI-SIG PCIe 3.0 specification",
        ),
        LinkType(
            name="pcie4",
            bytes_per_s=32 * GB,
            latency_s=1e-6,
            source="PCI-SIG PCIe 4.0 specification",
        ),
        # NVIDIA NVLink generations, per GPU per direction (half the bidirectional totals).
        LinkType(
            name="nvlink2", bytes_per_s=150 * GB, latency_s=1e-6, source="NVIDIA V100 datasheet"
        ),
        LinkType(
            name="nvlink3", bytes_per_s=300 * GB, latency_s=1e-6, source="NVIDIA A100 datasheet"
        ),
        LinkType(
            name="nvlink4", bytes_per_s=450 * GB, latency_s=1e-6, source="NVIDIA H100 datasheet"
        ),
        LinkType(
            name="nvlink5",
            bytes_per_s=900 * GB,
            latency_s=1e-6,
            source="NVIDIA Blackwell datasheet",
        ),
        LinkType(
            name="infinity-fabric",
            bytes_per_s=448 * GB,
            latency_s=1e-6,
            source="AMD MI300X datasheet",
        ),
        LinkType(name="ici", bytes_per_s=200 * GB, latency_s=1e-6, source="Google Cloud TPU docs"),
        # InfiniBand HDR 200 Gb/s, NDR 400 Gb/s per port; Ethernet 100/400 GbE.
        LinkType(
            name="ib-hdr",
            bytes_per_s=200 * Gbps,
            latency_s=2e-6,
            source="InfiniBand Trade Association roadmap",
        ),
        LinkType(
            name="ib-ndr",
            bytes_per_s=400 * Gbps,
            latency_s=2e-6,
            source="InfiniBand Trade Association roadmap",
        ),
        LinkType(name="eth-100g", bytes_per_s=100 * Gbps, latency_s=5e-6, source="IEEE 802.3"),
        LinkType(name="eth-400g", bytes_per_s=400 * Gbps, latency_s=5e-6, source="IEEE 802.3"),
    ]
}


def lookup(table: dict, name: str, what: str):
    """``table[name]``, or a KeyError naming close matches and every known name."""
    try:
        return table[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(table), n=3)
        hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        raise KeyError(
            f"unknown {what} {name!r}; {hint}known: {', '.join(sorted(table))}"
        ) from None


def chip(name: str) -> Chip:
    """Return the catalog chip ``name`` (KeyError listing close and known names otherwise)."""
    return lookup(CHIPS, name, "chip")


def node_template(name: str) -> NodeTemplate:
    """Return the catalog node template ``name`` (KeyError with hints otherwise)."""
    return lookup(NODES, name, "node template")


@dataclass(frozen=True)
class CollectiveCalibration:
    """What a user can measure about collectives: achieved fraction of link bandwidth and a
    per-step latency, for links inside a node (NVLink/PCIe) and between nodes (NIC path)."""

    intra_efficiency: float
    intra_latency_s: float
    inter_efficiency: float
    inter_latency_s: float
    source: str


# Fitted by simulator.perf.calibrate.fit_collectives on the measured NCCL all-reduce of
# shared/data/profiles/nccl/a100_dgx/all_reduce.csv (microsoft/vidur profiling, DGX-A100,
# 2-16 GPUs, 2 KiB-64 MiB); tests/test_perf_validation.py re-fits and checks these values.
NCCL_A100 = CollectiveCalibration(
    intra_efficiency=0.4777,
    intra_latency_s=1.44e-06,
    inter_efficiency=0.1907,
    inter_latency_s=8.74e-06,
    source="fit to profiles/nccl/a100_dgx/all_reduce.csv (ring model, messages >= 64 KiB)",
)

# Achievable fraction of the dense FP16/BF16 (or FP32) peak in large matrix-heavy steps.
# Fitted by simulator.perf.calibrate.fit_compute_fraction on the compute-bound prefill times of
# Llama-2-70B on A100-80GB (shared/data/profiles/llm_inference/perf_model_a100.csv, from
# Splitwise). The folder has no such measurement for other chips, so the A100 value is used
# unchanged for every chip; tests/test_perf_validation.py reports how well that transfers.
ACHIEVABLE_FLOP_FRACTION = 0.4128
