"""Relative attention in one fused kernel on GPUs: FlexAttention reading a table of q·Er.

The Music Transformer's logit for query i and key j is q_i·k_j + q_i·E(i - j), with
distances past R - 1 sharing the farthest embedding. The reference (`model.Attention`,
the paper's memory-efficient skew in causal blocks) hands the relative term to SDPA as
a float mask that needs gradients, so no fused kernel runs: on an H200 a training step
cost 4.3-4.7x one with absolute positions. Here the relative term is a (B, H, T, R)
table, T x R rather than T x T, computed by one matrix product:

    table[b, h, i, d] = q_i · E(d) / sqrt(head_dim)

and FlexAttention's score modification adds table[b, h, i, min(i - j, R - 1)] to each
logit inside its fused kernel; gradients flow back through the table to q and to Er.
`dense_relative` states the same rule with every logit materialised: the tests hold the
fused path to it and it to the skew, forward and gradients, on the CPU. FlexAttention
runs fused only on GPUs (compiled); on the CPU it has no backward, so training there
keeps the skew.
"""

from __future__ import annotations

import importlib.util
import math
from functools import lru_cache

import torch


def relative_table(q: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
    """(B, H, T, R): q_i · E(d) / sqrt(head_dim) for every distance d = 0 .. R - 1.

    `rel` is the model's Er, (H, R, hd) with row r for distance R - 1 - r (farthest first)."""
    return (q @ rel.flip(1).transpose(1, 2)) / math.sqrt(q.shape[-1])


def _distance(i: torch.Tensor, j: torch.Tensor, R: int) -> torch.Tensor:
    """Clipped distance from query i back to key j (0 for keys the causal mask hides)."""
    return torch.clamp(i - j, 0, R - 1)


def dense_relative(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
    """Causal relative attention (B, H, T, hd) with every (T, T) logit written out: the rule
    the fused kernel applies, for the tests and for reading."""
    B, H, T, hd = q.shape
    table = relative_table(q, rel)                                          # (B, H, T, R)
    position = torch.arange(T, device=q.device)
    distance = _distance(position[:, None], position[None, :], rel.shape[1])  # (T, T)
    bias = table.gather(3, distance.expand(B, H, T, T))                     # (B, H, T, T)
    logits = q @ k.transpose(-1, -2) / math.sqrt(hd) + bias
    logits = logits.masked_fill(position[None, :] > position[:, None], float("-inf"))
    return logits.softmax(-1) @ v


@lru_cache(maxsize=8)
def _causal_blocks(T: int, device: str):
    from torch.nn.attention.flex_attention import create_block_mask

    return create_block_mask(lambda b, h, i, j: i >= j, None, None, T, T, device=device)


@lru_cache(maxsize=1)
def _compiled_flex():
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False)


def flex_relative(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
    """Causal relative attention (B, H, T, hd) through FlexAttention: fused and compiled on a
    GPU; eager (unfused, forward only) elsewhere, which is what the CPU tests run."""
    from torch.nn.attention.flex_attention import flex_attention

    table = relative_table(q, rel)
    R = rel.shape[1]

    def add_relative(score, b, h, i, j):
        return score + table[b, h, i, _distance(i, j, R)]

    T = q.shape[2]
    run = _compiled_flex() if q.is_cuda else flex_attention
    return run(q, k, v, score_mod=add_relative, block_mask=_causal_blocks(T, str(q.device)))


def fused_available(q: torch.Tensor) -> bool:
    """Whether `flex_relative` runs as a fused kernel for these queries (a CUDA device and a
    torch with FlexAttention)."""
    return q.is_cuda and importlib.util.find_spec("torch.nn.attention.flex_attention") is not None
