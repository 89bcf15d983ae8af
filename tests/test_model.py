import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ambient.codec import NOTE_OFF, NOTE_ON, TIME_SHIFT, Sounding, vocab_size
from ambient.model import KVCache, MusicTransformer, skew, sounding_notes
from tests.conftest import tiny_config

VOCAB = vocab_size()


def naive_relative_logits(q: torch.Tensor, rel: torch.Tensor, key_length: int) -> torch.Tensor:
    """Shaw-style reference: logit[i, j] = q_i · E[distance(i, j)], distances clipped."""
    B, H, Tq, hd = q.shape
    R = rel.shape[1]
    out = torch.zeros(B, H, Tq, key_length)
    for i in range(Tq):
        position = key_length - Tq + i
        for j in range(position + 1):
            distance = min(position - j, R - 1)
            out[:, :, i, j] = (q[:, :, i] * rel[:, R - 1 - distance]).sum(-1)
    return out


@pytest.mark.parametrize("Tq,Tk,R", [(7, 7, 7), (7, 7, 3), (3, 9, 4), (1, 6, 10), (5, 5, 12)])
def test_skew_matches_the_direct_relative_logits(Tq, Tk, R):
    torch.manual_seed(0)
    q = torch.randn(2, 3, Tq, 4)
    rel = torch.randn(3, R, 4)
    from ambient.model import Attention

    attention = Attention(tiny_config(max_relative_distance=R, n_head=3, d_model=12))
    with torch.no_grad():
        attention.rel.copy_(rel)
    got = skew(q @ attention.relative_keys(Tk).transpose(1, 2))
    want = naive_relative_logits(q, rel, Tk)
    causal = torch.ones(Tq, Tk, dtype=torch.bool).tril(Tk - Tq)
    assert torch.allclose(got[..., causal], want[..., causal], atol=1e-5)


@pytest.mark.parametrize("positions", ["relative", "absolute"])
def test_cached_forward_matches_full_forward_at_every_position(positions):
    torch.manual_seed(1)
    model = MusicTransformer(tiny_config(positions=positions)).eval()
    idx = torch.randint(3, VOCAB, (3, 60))
    with torch.no_grad():
        full, _ = model(idx)
        cache = model.new_cache(3)
        pieces = [model(idx[:, :10], cache=cache)[0]]                      # a primer in one pass
        pieces += [model(idx[:, t:t + 1], cache=cache)[0] for t in range(10, 40)]  # token by token
        pieces.append(model(idx[:, 40:], cache=cache)[0])                  # a chunk on a warm cache
    assert cache.length == 60
    assert torch.allclose(torch.cat(pieces, 1), full, atol=1e-4)


def test_loss_ignores_padding_and_starts_near_uniform():
    torch.manual_seed(3)
    model = MusicTransformer(tiny_config()).eval()
    idx = torch.randint(3, VOCAB, (2, 33))
    padded = idx.clone()
    padded[:, 20:] = 0
    _, loss = model(idx[:, :-1], idx[:, 1:])
    _, loss_pad_ignored = model(padded[:, :-1], padded[:, 1:])
    assert abs(loss.item() - math.log(VOCAB)) < 0.2
    logits, _ = model(padded[:, :-1])
    manual = torch.nn.functional.cross_entropy(logits[:, :19].reshape(-1, VOCAB), padded[:, 1:20].reshape(-1))
    assert torch.allclose(loss_pad_ignored, manual, atol=1e-6)


def test_context_overflow_is_refused():
    model = MusicTransformer(tiny_config())
    with pytest.raises(ValueError, match="exceed the context"):
        model(torch.zeros(1, 65, dtype=torch.long))
    cache = KVCache(model.config, 1)
    cache.length = 64
    with pytest.raises(ValueError, match="exceed the context"):
        model(torch.zeros(1, 1, dtype=torch.long), cache=cache)


def test_decoding_table_of_relative_keys_follows_the_weights():
    from ambient.model import Attention

    attention = Attention(tiny_config(max_relative_distance=10))
    with torch.no_grad():
        cached = attention.relative_keys(40).clone()
    assert torch.equal(cached, attention.relative_keys(40).detach())  # grad path builds it afresh
    with torch.no_grad():
        attention.rel.add_(1.0)  # new weights, as after loading a checkpoint
        assert torch.equal(attention.relative_keys(40), cached + 1.0)
        assert torch.equal(attention.relative_keys(40)[:, :30], attention.rel[:, :1].expand(-1, 30, -1))


@pytest.mark.parametrize("T,R", [(300, 24), (257, 200), (129, 5)])
def test_blocked_banded_relative_attention_equals_the_naive_attention(T, R):
    """Several query blocks, keys far past R (the shared farthest embedding), a ragged last block."""
    import math

    from ambient.model import QUERY_BLOCK, Attention

    assert T > QUERY_BLOCK
    torch.manual_seed(2)
    attention = Attention(tiny_config(context=T, max_relative_distance=R, n_head=2, d_model=8))
    q, k, v = (torch.randn(1, 2, T, 4) for _ in range(3))
    with torch.no_grad():
        got = torch.cat([attention._relative_block(q[:, :, a:a + QUERY_BLOCK], k, v, a)
                         for a in range(0, T, QUERY_BLOCK)], dim=2)
        logits = (q @ k.transpose(-1, -2) + naive_relative_logits(q, attention.rel, T)) / math.sqrt(4)
        logits = logits.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
        want = logits.softmax(-1) @ v
    assert torch.allclose(got, want, atol=1e-5)


def test_sounding_notes_follow_note_ons_note_offs_and_restrikes():
    on, off, wait = (lambda p: NOTE_ON + p), (lambda p: NOTE_OFF + p), TIME_SHIFT
    idx = torch.tensor([[on(60), on(64), wait, off(60), off(70), on(64), wait, off(64), on(0)]])
    mask = sounding_notes(idx)[0]                                   # (T, 128)
    sounding = [sorted(torch.nonzero(row).flatten().tolist()) for row in mask]
    assert sounding == [[60], [60, 64], [60, 64], [64], [64], [64], [64], [], [0]]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, VOCAB - 1), min_size=1, max_size=200))
def test_the_models_sounding_input_is_the_codecs_account_of_what_sounds(tokens):
    """The batched rule on tensors and the token-by-token `Sounding` agree after every token."""
    mask = sounding_notes(torch.tensor([tokens]))[0]
    tracker = Sounding()
    for t, row in zip(tokens, mask):
        tracker.feed(t)
        assert sorted(torch.nonzero(row).flatten().tolist()) == sorted(tracker.notes)


def test_sounding_notes_carry_over_a_cache_and_a_fresh_read_starts_silent():
    config = tiny_config()
    idx = torch.tensor([[NOTE_ON + 60, NOTE_ON + 62, TIME_SHIFT, NOTE_OFF + 60, TIME_SHIFT]])
    whole = sounding_notes(idx)
    cache = KVCache(config, 1)
    parts = []
    for t in range(idx.shape[1]):
        parts.append(sounding_notes(idx[:, t:t + 1], cache))
        cache.length += 1
    assert torch.equal(torch.cat(parts, 1), whole)
    cache.length = 0                                                # a slide re-reads from position 0
    assert sounding_notes(idx[:, 2:3], cache).sum() == 0


def test_a_model_gaining_the_sounding_input_starts_exactly_where_its_base_was():
    torch.manual_seed(4)
    base = MusicTransformer(tiny_config(sounding_input=False)).eval()
    grown = MusicTransformer(tiny_config(sounding_input=True)).eval()
    missing, unexpected = grown.load_state_dict(base.state_dict(), strict=False)
    assert missing == ["sounding.weight"] and unexpected == []
    idx = torch.tensor([[NOTE_ON + 60, TIME_SHIFT, NOTE_ON + 64, TIME_SHIFT + 9, NOTE_OFF + 60]])
    with torch.no_grad():
        assert torch.equal(grown(idx)[0], base(idx)[0])
