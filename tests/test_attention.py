"""Fused relative attention (FlexAttention over a q·Er table) against the paper's skew.

On the CPU: the table rule written out (`dense_relative`) equals the skew in values and
in every gradient, and FlexAttention's eager forward equals the table rule. On a GPU
(`gpu` marker): the compiled, fused kernel, forward and gradients, and a whole training
step of the model through it against the same step through the skew.
"""

import math

import pytest
import torch

from ambient.attention import dense_relative, flex_relative, relative_table
from ambient.codec import vocab_size
from ambient.model import QUERY_BLOCK, Attention, MusicTransformer
from tests.conftest import tiny_config


def skew_attention(attention: Attention, q, k, v) -> torch.Tensor:
    """The model's reference: causal query blocks, the skew, the band of distinct distances."""
    T = q.shape[2]
    return torch.cat([attention._relative_block(q[:, :, a:a + QUERY_BLOCK], k, v, a)
                      for a in range(0, T, QUERY_BLOCK)], dim=2)


def _inputs(T: int, R: int, device="cpu", seed=0):
    torch.manual_seed(seed)
    attention = Attention(tiny_config(context=max(T, 8), max_relative_distance=R, n_head=2, d_model=16)).to(device)
    q, k, v = (torch.randn(2, 2, T, 8, device=device, requires_grad=True) for _ in range(3))
    return attention, q, k, v


def assert_same_attention(got: torch.Tensor, want: torch.Tensor, inputs, atol: float, grad_atol: float,
                          rtol: float = 1e-5):
    """The same values, and the same gradients for q, k, v and Er under a loss that weighs
    every output differently."""
    assert torch.allclose(got, want, atol=atol)
    weights = torch.randn(got.shape, generator=torch.Generator().manual_seed(1)).to(got.device)
    for name, a, b in zip("q k v rel".split(), torch.autograd.grad((got * weights).sum(), inputs),
                          torch.autograd.grad((want * weights).sum(), inputs)):
        assert torch.allclose(a, b, atol=grad_atol, rtol=rtol), name


def test_the_table_holds_q_times_each_distance_embedding():
    attention, q, _, _ = _inputs(T=5, R=3)
    table = relative_table(q, attention.rel)
    # distance d reads Er row R - 1 - d (farthest first)
    want = torch.einsum("bhtd,hd->bht", q, attention.rel[:, 3 - 1 - 2]) / math.sqrt(8)
    assert torch.allclose(table[..., 2], want, atol=1e-6)


@pytest.mark.parametrize("T,R", [(40, 8), (300, 24), (130, 200), (17, 17)])
def test_the_table_rule_equals_the_skew_forward_and_backward(T, R):
    attention, q, k, v = _inputs(T, R)
    assert_same_attention(dense_relative(q, k, v, attention.rel), skew_attention(attention, q, k, v),
                          (q, k, v, attention.rel), atol=1e-5, grad_atol=1e-5)


@pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")
@pytest.mark.parametrize("T,R", [(40, 8), (150, 24)])
def test_flex_attention_applies_the_table_rule(T, R):
    attention, *qkv = _inputs(T, R)
    q, k, v, rel = (t.detach() for t in (*qkv, attention.rel))  # FlexAttention has no CPU backward
    assert torch.allclose(flex_relative(q, k, v, rel), dense_relative(q, k, v, rel), atol=1e-5)


def test_the_cpu_keeps_the_skew_for_training():
    """FlexAttention has no CPU backward: a CPU training step must not reach it."""
    model = MusicTransformer(tiny_config()).train()
    idx = torch.randint(3, vocab_size(), (2, 41))
    _, loss = model(idx[:, :-1], idx[:, 1:])
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.gpu
@pytest.mark.parametrize("T,R", [(256, 64), (1024, 256)])
def test_the_fused_kernel_on_a_gpu_equals_the_skew_forward_and_backward(T, R):
    attention, q, k, v = _inputs(T, R, device="cuda")
    assert_same_attention(flex_relative(q, k, v, attention.rel), skew_attention(attention, q, k, v),
                          (q, k, v, attention.rel), atol=2e-4, grad_atol=2e-3, rtol=1e-3)


@pytest.mark.gpu
def test_a_training_step_through_the_fused_kernel_matches_the_skew_on_a_gpu():
    torch.manual_seed(3)
    model = MusicTransformer(tiny_config(context=256, max_relative_distance=64)).cuda().train()
    idx = torch.randint(3, vocab_size(), (4, 257), device="cuda")
    losses, grads = [], []
    for kernel in ("auto", "skew"):
        Attention.kernel = kernel
        try:
            torch.manual_seed(7)  # the same dropout masks
            model.zero_grad()
            _, loss = model(idx[:, :-1], idx[:, 1:])
            loss.backward()
        finally:
            Attention.kernel = "auto"
        losses.append(loss.item())
        grads.append([p.grad.clone() for p in model.parameters()])
    assert abs(losses[0] - losses[1]) < 1e-4
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-3, rtol=1e-3)
