"""Model zoo as data: the sizes a step-time model needs, each with its source.

``flops_per_sample`` is the *training* cost of one sample (forward + backward = 3 x forward,
counting a multiply-add as 2 FLOPs). For language models a sample is one sequence of
``seq_len`` tokens and the cost follows Kaplan et al. 2020 / Hoffmann et al. 2022:
6 N + 12 L d T FLOPs per token (N parameters, L layers, d model width, T context).
``grad_params`` are the parameters whose gradients the data-parallel all-reduce carries (all of
them, except for recommenders whose embedding tables are sharded, not replicated).
``activation_bytes_per_sample`` is a rough size of the activations written in the forward pass
and read back in the backward pass (fp16), used only for the memory-traffic bound.

Must not import: simpy, numba.
"""

from __future__ import annotations

from dataclasses import dataclass

from .catalog import lookup

M = 1e6
G = 1e9


@dataclass(frozen=True)
class ModelSpec:
    """Sizes of one trainable model."""

    name: str
    params: float
    flops_per_sample: float
    sample: str  # what one sample is: image, sequence, example
    activation_bytes_per_sample: float
    grad_params: float | None = None
    seq_len: int | None = None
    layers: int | None = None
    hidden: int | None = None
    source: str = ""
    kv_hidden: int | None = None  # width of the KV cache per layer (grouped-query attention)

    @property
    def allreduce_params(self) -> float:
        return self.params if self.grad_params is None else self.grad_params


def _lm(
    name: str,
    params: float,
    layers: int,
    hidden: int,
    seq_len: int,
    source: str,
    kv_hidden: int | None = None,
) -> ModelSpec:
    """A decoder/encoder transformer: 6N + 12 L d T training FLOPs per token."""
    per_token = 6 * params + 12 * layers * hidden * seq_len
    # activations kept for backward: ~34 d bytes per token per layer in fp16 (Korthikanti et
    # al. 2022, without recomputation, ignoring the attention-score term)
    activations = 34 * hidden * layers * seq_len
    return ModelSpec(
        name,
        params,
        per_token * seq_len,
        "sequence",
        activations,
        None,
        seq_len,
        layers,
        hidden,
        source,
        kv_hidden,
    )


MODELS: dict[str, ModelSpec] = {
    m.name: m
    for m in [
        # He et al. 2016 (Table 1) / torchvision: ResNet-18 11.7 M parameters, 1.82 G
        # multiply-adds per 224x224 image -> 3 x 2 x 1.82e9 training FLOPs.
        ModelSpec(
            "resnet18",
            11.7 * M,
            6 * 1.82 * G,
            "image",
            30 * M,
            source="He et al. 2016; torchvision model card",
        ),
        # The CIFAR-10 variant used by Pollux/AdaptDL (3x3 stem, 32x32 inputs): 11.2 M
        # parameters, 0.56 G multiply-adds per image.
        ModelSpec(
            "resnet18-cifar10",
            11.2 * M,
            6 * 0.56 * G,
            "image",
            5 * M,
            source="kuangliu/pytorch-cifar ResNet18, as used by AdaptDL",
        ),
        # He et al. 2016 / torchvision: ResNet-50 25.6 M parameters, 4.09 G multiply-adds.
        ModelSpec(
            "resnet50",
            25.6 * M,
            6 * 4.09 * G,
            "image",
            100 * M,
            source="He et al. 2016; torchvision model card",
        ),
        # Devlin et al. 2019: BERT-base 110 M (12 layers, d=768), BERT-large 340 M
        # (24 layers, d=1024); sequence length 128 (pre-training phase 1).
        _lm("bert-base", 110 * M, 12, 768, 128, "Devlin et al. 2019"),
        _lm("bert-large", 340 * M, 24, 1024, 128, "Devlin et al. 2019"),
        # BERT-base fine-tuned on SQuAD with 384-token sequences (the AdaptDL/Pollux example).
        _lm("bert-base-squad", 110 * M, 12, 768, 384, "Devlin et al. 2019; AdaptDL BERT example"),
        # Naumov et al. 2019 DLRM, Criteo Kaggle configuration of the reference code: 26
        # embedding tables of dimension 16 over ~33.8 M rows (~540 M parameters, sharded, not
        # all-reduced); bottom MLP 13-512-256-64-16, top MLP 367-512-256-1 (~0.47 M dense
        # parameters, ~0.47 M multiply-adds per example).
        ModelSpec(
            "dlrm-kaggle",
            540 * M,
            6 * 0.474 * M,
            "example",
            4e3,
            grad_params=0.474 * M,
            source="Naumov et al. 2019; facebookresearch/dlrm Kaggle config",
        ),
        # Brown et al. 2020 (Table 2.1): GPT-3 XL 1.3 B, 24 layers, d=2048, context 2048.
        _lm("gpt-1.3b", 1.3 * G, 24, 2048, 2048, "Brown et al. 2020, Table 2.1"),
        # Touvron et al. 2023 (Llama 2): 7 B = 6.74 B parameters, 32 layers, d=4096, ctx 4096.
        _lm("gpt-7b", 6.74 * G, 32, 4096, 4096, "Touvron et al. 2023 (Llama 2 7B shape)"),
        # Llama 2 70 B: 69 B parameters, 80 layers, d=8192, context 4096.
        _lm("gpt-70b", 69 * G, 80, 8192, 4096, "Touvron et al. 2023 (Llama 2 70B shape)"),
        # Grouped-query attention: 8 KV heads of 128, so the KV cache is 1,024 wide per layer.
        _lm("llama2-70b", 69 * G, 80, 8192, 4096, "Touvron et al. 2023", kv_hidden=1024),
        # BigScience BLOOM 176 B: 70 layers, d=14336, 112 heads (full multi-head KV), ctx 2048.
        _lm("bloom-176b", 176 * G, 70, 14336, 2048, "BigScience, Le Scao et al. 2022"),
    ]
}


def model(name: str) -> ModelSpec:
    """Return the zoo model ``name`` (KeyError listing close and known names otherwise)."""
    return lookup(MODELS, name, "model")
