"""Derive the constants behind `vwbench plan`'s estimates (vwbench/plan.py ESTIMATES) without a GPU or weights.

    python benchmarks/plan_estimates.py        # about 10 s on a CPU: the paper's models built on the meta device

Builds the paper's three models at full size on PyTorch's meta device (no memory, no weights; the builders of
benchmarks/gpu_check.py) in bfloat16 with frozen weights, and runs each forward pass the learner runs:
  - saved activations: bytes of every tensor autograd keeps for the backward pass to the learned word (counted
    with torch.autograd.graph.saved_tensors_hooks). Scaled-dot-product attention is replaced by a stand-in that
    keeps what flash / memory-efficient attention keep (q, k, v, output, row log-sum-exp), as on a GPU; the meta
    device would otherwise fall back to the math kernel and keep the full attention matrices.
  - forward FLOPs: torch.utils.flop_counter.FlopCounterMode, plus 4·Nq·Nk·d per attention head.
Both are taken per batch item (batch 2 minus batch 1). Prints one line per quantity; vwbench/plan.py copies them (rounded).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import gpu_check

ATTENTION_FLOPS = [0]


class FusedAttention(torch.autograd.Function):
    """What flash / memory-efficient attention keep for backward: q, k, v, the output and the row log-sum-exp."""

    @staticmethod
    def forward(ctx, q, k, v):
        out = q.new_empty(q.shape[:-1] + (v.shape[-1],))
        ctx.save_for_backward(q, k, v, out, q.new_empty(q.shape[:-1], dtype=torch.float32))
        return out

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("meta-device measurement only")


def sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, **kw):
    ATTENTION_FLOPS[0] += 4 * q.shape[:-1].numel() * k.shape[-2] * q.shape[-1]
    if q.requires_grad or k.requires_grad or v.requires_grad:
        return FusedAttention.apply(q, k, v)
    return q.new_empty(q.shape[:-1] + (v.shape[-1],))


def per_item(fn, grad: bool = True) -> tuple[float, float]:
    """(GiB saved for backward, forward TFLOP) per batch item: the difference between batch 2 and batch 1, which
    leaves out what does not grow with the batch (the frozen weights autograd also keeps references to)."""
    one, two = measure(lambda: fn(1), grad), measure(lambda: fn(2), grad)
    return two[0] - one[0], two[1] - one[1]


def measure(fn, grad: bool = True) -> tuple[float, float]:
    """(GiB saved for backward, forward TFLOP) of one call."""
    saved = [0]
    ATTENTION_FLOPS[0] = 0

    def pack(t):
        # an expanded view (a weight broadcast over the batch) holds no more memory than its storage
        saved[0] += min(t.numel() * t.element_size(), t.untyped_storage().nbytes())
        return t

    counter = FlopCounterMode(display=False)
    with (
        torch.enable_grad() if grad else torch.no_grad(),
        torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t),
        counter,
    ):
        fn()
    return saved[0] / 2**30, (counter.get_total_flops() + ATTENTION_FLOPS[0]) / 1e12


def main() -> None:
    F.scaled_dot_product_attention = sdpa
    dt = torch.bfloat16
    pipe, _ = gpu_check.sd21("meta")
    unet, text, vae = (m.to(dt).requires_grad_(False) for m in (pipe.unet, pipe.text_encoder, pipe.vae))

    def meta(*shape, dtype=dt, grad=False):
        return torch.zeros(*shape, dtype=dtype, device="meta", requires_grad=grad)

    text.get_input_embeddings().weight.requires_grad_(True)  # the path to the learned word
    gib, tflop = per_item(
        lambda n: unet(meta(n, 4, 96, 96), meta(n, dtype=torch.long), meta(n, 77, 1024, grad=True)).sample
    )
    print(f"generation UNet per sample at 96x96 latents: saved GiB {gib:.3f}, forward TFLOP {tflop:.3f}")
    gib, tflop = per_item(lambda n: text(meta(n, 77, dtype=torch.long))[0])
    print(f"generation text encoder per word: saved GiB {gib:.3f}, forward TFLOP {tflop:.4f}")
    tflop = per_item(lambda n: vae.decode(meta(n, 4, 96, 96)).sample, grad=False)[1]
    print(f"generation VAE decode per 768px image: forward TFLOP {tflop:.3f}")
    owl, _ = gpu_check.owlv2_b16("meta")
    owl = owl.to(dt).requires_grad_(False)
    owl.owlv2.text_model.embeddings.token_embedding.weight.requires_grad_(True)
    gib, tflop = per_item(lambda n: owl.owlv2.text_model(input_ids=meta(n, 16, dtype=torch.long))[1])
    print(f"detection text tower per word: saved GiB {gib:.4f}, forward TFLOP {tflop:.4f}")
    clip, _ = gpu_check.clip_l14("meta")
    clip = clip.to(dt).requires_grad_(False)
    clip.token_embedding.weight.requires_grad_(True)
    gib, tflop = per_item(lambda n: clip.encode_text(meta(n, 77, dtype=torch.long)))
    print(f"classification text tower per word: saved GiB {gib:.4f}, forward TFLOP {tflop:.4f}")
    params = [sum(p.numel() for p in m.parameters()) / 1e6 for m in (unet, text, vae, owl, clip)]
    print("parameters (M): UNet {:.1f}, SD text {:.1f}, VAE {:.1f}, OWLv2 {:.1f}, CLIP L/14 {:.1f}".format(*params))


if __name__ == "__main__":
    main()
