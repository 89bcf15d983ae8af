"""The token-at-a-time decoder against the model's own forward pass, and the sampler's draw."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ambient.codec import NOTE_OFF, NOTE_ON, TIME_SHIFT, vocab_size
from ambient.decoder import Decoder
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
