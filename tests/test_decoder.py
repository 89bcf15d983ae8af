"""The token-at-a-time decoder against the model's own forward pass, and the sampler's draw."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ambient.codec import NOTE_OFF, NOTE_ON, TIME_SHIFT, vocab_size
from ambient.decoder import Decoder, GraphDecoder
from ambient.model import MusicTransformer
from ambient.sampling import draw
from tests.conftest import tiny_config

VOCAB = vocab_size()


def _model(**overrides) -> MusicTransformer:
    torch.manual_seed(5)
    model = MusicTransformer(tiny_config(**overrides)).eval()
    if model.config.sounding_input:  # zero at birth: give it weights so the path is exercised
        torch.nn.init.normal_(model.sounding.weight, 0.0, 0.2)
    return model


@pytest.mark.parametrize("positions,R", [("relative", 24), ("relative", 100), ("absolute", 24)])
def test_each_step_equals_the_full_forward_pass_through_a_slide(positions, R):
    """Keys pass the farthest relative distance (and settle), then the window is re-read from 0."""
    model = _model(positions=positions, max_relative_distance=R)
    tokens = torch.randint(3, VOCAB, (2, 64), generator=torch.Generator().manual_seed(1))
    tokens[:, 5:9] = torch.tensor([NOTE_ON + 60, TIME_SHIFT, NOTE_OFF + 60, NOTE_ON + 61])
    decoder = Decoder(model)
    cache = model.new_cache(2)
    with torch.no_grad():
        want = model(tokens)[0]
        model(tokens[:, :6], cache=cache)
        got = [decoder.step(tokens[:, t:t + 1], cache) for t in range(6, 64)]
        assert cache.length == 64
        assert torch.allclose(torch.stack(got, 1), want[:, 6:64], atol=1e-5)
        # a slide: the newest 20 tokens re-read into the same cache from position 0
        model(tokens[:, 40:50], cache=(cache, setattr(cache, "length", 0))[0])
        again = [decoder.step(tokens[:, t:t + 1], cache) for t in range(50, 64)]
        assert torch.allclose(torch.stack(again, 1), model(tokens[:, 40:64])[0][:, 10:24], atol=1e-5)


def test_a_decoder_refuses_to_step_past_the_context():
    model = _model()
    cache = model.new_cache(1)
    with torch.no_grad():
        model(torch.full((1, 64), TIME_SHIFT), cache=cache)
    with pytest.raises(ValueError, match="65 tokens exceed the context of 64"):
        Decoder(model).step(torch.tensor([[TIME_SHIFT]]), cache)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 4), st.floats(0.1, 8.0))
def test_draw_takes_the_token_multinomial_takes_from_the_same_generator(seed, rows, spread):
    logits = torch.randn(rows, VOCAB, generator=torch.Generator().manual_seed(seed)) * spread
    logits[:, ::3] = float("-inf")  # filtered tokens: probability exactly 0
    probs = logits.softmax(-1)
    ours, theirs = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
    for _ in range(3):
        token = draw(probs, ours)
        assert torch.equal(token, torch.multinomial(probs, 1, generator=theirs))
        assert bool((probs.gather(1, token) > 0).all())


@pytest.mark.parametrize("positions,R", [("relative", 24), ("relative", 100), ("absolute", 24)])
def test_the_fixed_shape_step_a_gpu_captures_equals_the_eager_step(positions, R):
    """`GraphDecoder`'s step run eagerly (what a CUDA graph replays) against `Decoder.step`,
    through the farthest distance and a slide, with notes sounding."""
    model = _model(positions=positions, max_relative_distance=R)
    tokens = torch.randint(3, VOCAB, (2, 64), generator=torch.Generator().manual_seed(2))
    tokens[:, 10:16] = torch.tensor([NOTE_ON + 60, NOTE_ON + 64, TIME_SHIFT, NOTE_OFF + 60, NOTE_ON + 60, TIME_SHIFT])
    eager_cache, fixed_cache = model.new_cache(2), model.new_cache(2)
    eager = Decoder(model)
    with torch.no_grad():
        for cache in (eager_cache, fixed_cache):
            model(tokens[:, :6], cache=cache)
        fixed = GraphDecoder(model, fixed_cache, graph=False)
        for start, stop in ((6, 40), (50, 64)):
            for t in range(start, stop):
                want = eager.step(tokens[:, t:t + 1], eager_cache)
                got = fixed.step(tokens[:, t:t + 1], fixed_cache)
                assert torch.allclose(got, want, atol=1e-5), t
            assert fixed_cache.length == eager_cache.length == (stop if start == 6 else 24)
            for cache in (eager_cache, fixed_cache):  # a slide: re-read tokens 40-49 from position 0
                cache.length = 0
                model(tokens[:, 40:50], cache=cache)
        with pytest.raises(ValueError, match="only the cache it was built for"):
            fixed.step(tokens[:, :1], eager_cache)


def _same_music(monkeypatch, model, fixed_shape) -> None:
    """The sampler through `fixed_shape(model, cache)` writes what it writes through the eager
    decoder: same seed, same tokens, through several slides of the window (context 64)."""
    from ambient import sampling

    primer = torch.randint(3, VOCAB, (30,), generator=torch.Generator().manual_seed(3)).numpy()
    monkeypatch.setattr(sampling, "decoder_for", lambda model, cache: Decoder(model))
    eager = sampling.continue_tokens(model, primer, length=150, variations=3, seed=4)
    monkeypatch.setattr(sampling, "decoder_for", fixed_shape)
    other = sampling.continue_tokens(model, primer, length=150, variations=3, seed=4)
    for a, b in zip(other, eager):
        assert (a == b).all()


def test_the_sampler_through_the_fixed_shape_step_writes_the_same_music(monkeypatch):
    _same_music(monkeypatch, _model(), lambda model, cache: GraphDecoder(model, cache, graph=False))


@pytest.mark.gpu
def test_a_captured_graph_samples_the_same_tokens_as_eager_decoding_on_a_gpu(monkeypatch):
    _same_music(monkeypatch, _model().cuda(), GraphDecoder)
