"""The transcription benchmark's own promises: its sets are kept apart, and its rooms ring as long
as they say. A held-out figure means nothing if the held-out sound leaks into the tuning set."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import transcription_corpus as corpus  # noqa: E402


def family(reverb: str) -> str:
    return reverb.split("-")[0]  # freeverb-room and freeverb-hall are one algorithm


def test_no_two_sets_share_a_timbre_or_a_reverb_algorithm():
    sets = {name: {"timbres": {t for t, _ in conds}, "rooms": {family(r) for _, r in conds} - {"dry"}}
            for name, conds in corpus.SPLITS.items()}
    assert set(sets) == {"tuning", "held-out", "held-out-2"}
    names = list(sets)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not sets[a]["timbres"] & sets[b]["timbres"], (a, b)
            assert not sets[a]["rooms"] & sets[b]["rooms"], (a, b)
    for conds in corpus.SPLITS.values():
        kinds = {corpus.TIMBRES[t].kind for t, _ in conds}
        assert kinds == {"plucked", "sustained"}  # each set can report both summaries
        assert any("hall" in r for _, r in conds) and any(r == "dry" for _, r in conds)


def decay_time(impulse_response: np.ndarray, rate: int) -> float:
    """RT60 from the energy decay curve's fall from -5 to -35 dB (Schroeder integration)."""
    energy = (impulse_response ** 2).sum(axis=0)
    curve = 10 * np.log10(np.cumsum(energy[::-1])[::-1] / energy.sum() + 1e-30)
    t5, t35 = np.argmax(curve < -5) / rate, np.argmax(curve < -35) / rate
    return 2 * (t35 - t5)


@pytest.mark.parametrize("rt60", [0.8, 3.0])
def test_the_feedback_delay_network_rings_for_its_rt60(rt60):
    impulse = np.zeros((2, int(corpus.RATE * rt60 * 1.5)))
    impulse[:, 0] = 1.0
    reverb = corpus.feedback_delay_network(rt60, wet=1.0, damping=0.0, seed=1)
    tail = reverb(impulse)
    assert tail.shape == impulse.shape and np.isfinite(tail).all()
    assert decay_time(tail, corpus.RATE) == pytest.approx(rt60, rel=0.1)
    # nothing comes out before the shortest line has delayed the impulse once
    assert np.abs(tail[:, :1000]).max() == 0.0


def test_damping_shortens_the_highs_so_a_damped_hall_dies_sooner():
    impulse = np.zeros((2, corpus.RATE * 6))
    impulse[:, 0] = 1.0
    plain = decay_time(corpus.feedback_delay_network(4.0, 1.0, 0.0, seed=1)(impulse), corpus.RATE)
    damped = decay_time(corpus.feedback_delay_network(4.0, 1.0, 0.3, seed=1)(impulse), corpus.RATE)
    assert damped < 0.9 * plain
