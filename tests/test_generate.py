import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ambient.codec import END, PAD, START, TIME_SHIFT, decode, encode, normalize, vocab_size
from ambient.errors import AmbientError, ParameterError
from ambient.sampling import Sampling, continue_piece, continue_tokens, filter_logits, primer_tokens
from ambient.model import MusicTransformer
from ambient.notes import Note, piece_end
from tests.conftest import random_piece, tiny_config

VOCAB = vocab_size()


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return MusicTransformer(tiny_config()).eval()


def kept(logits: torch.Tensor) -> int:
    return int(torch.isfinite(logits).sum())


def test_top_k_keeps_exactly_k():
    logits = torch.randn(4, VOCAB)
    assert [kept(row) for row in filter_logits(logits, Sampling(top_k=7, top_p=1.0))] == [7] * 4


@settings(max_examples=100, deadline=None)
@given(st.floats(0.05, 0.99), st.integers(0, 2**31 - 1))
def test_top_p_keeps_the_smallest_set_reaching_p(p, seed):
    logits = torch.randn(1, 50, generator=torch.Generator().manual_seed(seed)) * 3
    out = filter_logits(logits, Sampling(top_p=p))
    probs = logits.softmax(-1)[0]
    chosen = probs[torch.isfinite(out[0])]
    assert chosen.sum() >= p - 1e-6
    assert chosen.sum() - chosen.min() < p  # without its least likely token it falls short
    dropped = probs[~torch.isfinite(out[0])]
    assert len(dropped) == 0 or chosen.min() >= dropped.max()


def test_min_p_drops_tokens_below_a_fraction_of_the_likeliest():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.1, 0.06, 0.04]]))
    assert kept(filter_logits(logits, Sampling(top_p=1.0, min_p=0.15))) == 3


@pytest.mark.parametrize("bad,parameter", [(Sampling(temperature=0), "temperature"), (Sampling(top_p=2), "top_p"),
                                           (Sampling(top_k=-1), "top_k"), (Sampling(min_p=1), "min_p")])
def test_bad_sampling_settings_are_refused_naming_the_parameter(bad, parameter):
    """A Python caller reads the parameter it passed, not a CLI flag it never typed."""
    with pytest.raises(ParameterError, match=f"^{parameter} ") as caught:
        bad.check()
    assert caught.value.parameter == parameter and "--" not in str(caught.value)


def test_length_is_exact_and_runs_past_the_context(model):
    primer, _ = primer_tokens(random_piece(np.random.default_rng(0), notes=30))
    assert len(primer) > model.config.context  # the primer alone overflows the window
    out = continue_tokens(model, primer, length=300, seed=1)
    assert len(out) == 1 and len(out[0]) == 300
    assert not np.isin(out[0], [PAD, START, END]).any()


def test_same_seed_same_tokens_and_variations_differ(model):
    primer = encode([Note(0, 1, 60, 64)], add_start=True)
    a = continue_tokens(model, primer, length=80, seed=5, variations=3)
    b = continue_tokens(model, primer, length=80, seed=5, variations=3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], a[1])


def test_seconds_moves_each_variation_forward_that_far(model):
    primer = encode([Note(0, 1, 60, 64)], add_start=True)
    for row in continue_tokens(model, primer, seconds=5.0, seed=2, variations=2):
        shifts = row[(row >= TIME_SHIFT) & (row < TIME_SHIFT + 100)].astype(int) - TIME_SHIFT + 1
        assert shifts.sum() >= 500 and shifts[:-1].sum() < 500  # stops at the shift that crosses 5 s


def test_primer_is_kept_at_the_start(model):
    primer = random_piece(np.random.default_rng(3), notes=12, seconds=8)
    piece = continue_piece(model, primer, length=200, seed=0)[0].notes
    normal = normalize(primer)
    head = [n for n in piece if n.start < piece_end(normal) - 0.5]
    assert [(n.start, n.pitch) for n in normal] == [(n.start, n.pitch) for n in piece][:len(normal)]
    assert len(head) >= len([n for n in normal if n.start < piece_end(normal) - 0.5])


def test_primer_seconds_keeps_only_the_last_seconds():
    notes = [Note(float(i), float(i) + 0.5, 60 + i, 70) for i in range(20)]
    _, used = primer_tokens(notes, primer_seconds=5.0)
    assert [n.pitch for n in used] == [75, 76, 77, 78, 79]
    assert used[0].start == pytest.approx(0.5)


@pytest.mark.parametrize("kwargs,message", [({"length": 0}, "^length must"), ({"seconds": -1}, "^seconds must"),
                                            ({}, "exactly one"), ({"length": 5, "variations": 0}, "variations")])
def test_bad_lengths_are_refused(model, kwargs, message):
    with pytest.raises(AmbientError, match=message):
        continue_tokens(model, np.array([START], dtype=np.uint16), **kwargs)


def test_every_continuation_decodes(model):
    for row in continue_tokens(model, np.array([START], dtype=np.uint16), length=150, seed=9, variations=4):
        for n in decode(row):
            assert n.end > n.start


def test_the_documented_python_api(tmp_path):
    from ambient import continue_piece, load_model, read_midi, write_midi
    from ambient.render import render
    from ambient.seeds import resolve_primer

    model, card = load_model()
    [take] = continue_piece(model, read_midi(resolve_primer("4")), seconds=5, seed=2, codec=card.codec)
    write_midi(tmp_path / "api.mid", take.notes)
    report = render(take.notes, tmp_path / "api.wav", "voyager")
    assert read_midi(tmp_path / "api.mid") and report.seconds > 5
    assert take.new and min(n.start for n in take.new) >= take.primer_end - 1e-9
