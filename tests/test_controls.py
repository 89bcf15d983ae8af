"""Sampling controls: each one a constraint on the logits, checked on what is actually generated."""

import math

import numpy as np
import pytest
import torch

from ambient.codec import NOTE_OFF, NOTE_ON, TIME_SHIFT, decode, encode, vocab_size
from ambient.controls import Constraint, Controls, PlayState, estimate_scale, parse_scale
from ambient.errors import ParameterError
from ambient.evaluate import metrics
from ambient.model import MusicTransformer
from ambient.notes import Note
from ambient.sampling import continue_piece, continue_tokens, primer_tokens, release_sounding, window
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return MusicTransformer(tiny_config()).eval()


def primer(pitches=(62, 64, 65, 67, 69, 71, 72, 74), seconds: float = 8.0) -> list[Note]:
    return [Note(i * 0.5, i * 0.5 + 0.4, pitches[i % len(pitches)], 70) for i in range(int(seconds * 2))]


def continuation(model, controls: Controls, seconds: float = 30.0, seed: int = 0) -> list[Note]:
    start = primer()
    [piece] = [c.notes for c in continue_piece(model, start, seconds=seconds, seed=seed, controls=controls)]
    end = max(n.end for n in start)
    return [n for n in piece if n.start >= end - 1e-9]


def test_scales_parse_by_name():
    assert parse_scale("D dorian") == {2, 4, 5, 7, 9, 11, 0}
    assert parse_scale("Bb major") == {10, 0, 2, 3, 5, 7, 9}
    assert parse_scale("a minor") == parse_scale("C")
    for bad in ("H major", "D doric", "sharp"):
        with pytest.raises(ParameterError, match="^scale "):
            parse_scale(bad)


def test_auto_scale_finds_the_primers_mode_and_falls_back_to_the_classes_it_uses():
    assert estimate_scale(primer()) == parse_scale("D dorian")  # D E F G A B C
    chromatic = [Note(i * 0.5, i * 0.5 + 0.4, 60 + i % 12, 70) for i in range(24)]
    assert estimate_scale(chromatic) == frozenset(range(12))
    assert estimate_scale([]) == frozenset(range(12))


@pytest.mark.parametrize("scale", ["auto", "F# minor-pentatonic"])
def test_asked_for_a_scale_no_note_leaves_it(model, scale):
    allowed = estimate_scale(primer()) if scale == "auto" else parse_scale(scale)
    notes = continuation(model, Controls(scale=scale))
    assert len(notes) >= 10  # enough to show the rule
    assert {n.pitch % 12 for n in notes} <= allowed
    free = continuation(model, Controls())
    assert {n.pitch % 12 for n in free} - allowed  # the untrained model wanders without it


def test_a_finite_strength_only_leans_against_the_scale():
    c = Constraint(Controls(scale="C major", scale_strength=2.0), primer(), vocab_size())
    assert c.static[NOTE_ON + 61] == -2.0 and c.static[NOTE_ON + 60] == 0.0
    assert c.static[TIME_SHIFT] == 0.0  # only note-ons are touched


def test_asked_for_a_range_every_note_is_inside(model):
    notes = continuation(model, Controls(pitch_range=(50, 62)))
    assert notes and all(50 <= n.pitch <= 62 for n in notes)


def peak_polyphony(notes) -> int:
    events = sorted([(n.start, 1) for n in notes] + [(n.end, -1) for n in notes], key=lambda e: (e[0], e[1]))
    sounding = peak = 0
    for _, change in events:
        sounding += change
        peak = max(peak, sounding)
    return peak


def test_asked_for_a_polyphony_no_more_notes_sound_at_once(model):
    capped = continuation(model, Controls(max_polyphony=2), seconds=40)
    assert len(capped) >= 3 and peak_polyphony(capped) <= 2
    assert peak_polyphony(continuation(model, Controls(), seconds=40)) > 2


@pytest.mark.parametrize("target", [0.5, 2.0, 6.0])
def test_asked_for_a_density_a_minute_holds_it_within_a_quarter(model, target):
    notes = continuation(model, Controls(density=target), seconds=60)
    rate = len(notes) / 60
    assert abs(rate - target) / target <= 0.25, rate


def test_bad_controls_name_their_parameter():
    for controls, name in [(Controls(pitch_range=(80, 20)), "pitch_range"), (Controls(density=0), "density"),
                           (Controls(max_polyphony=0), "max_polyphony"), (Controls(scale_strength=0), "scale_strength"),
                           (Controls(scale="Q"), "scale")]:
        with pytest.raises(ParameterError, match=f"^{name} "):
            controls.check()


def test_no_controls_leave_generation_exactly_as_it_was(model):
    tokens, _ = primer_tokens(primer())
    plain = continue_tokens(model, tokens, length=300, seed=3)
    idle = continue_tokens(model, tokens, length=300, seed=3, controls=Controls())
    assert all(np.array_equal(a, b) for a, b in zip(plain, idle))


def test_play_state_follows_time_notes_and_onsets():
    state = PlayState()
    for t in encode([Note(0, 2, 60, 70), Note(1, 1.5, 64, 70)]):
        state.feed(int(t))
    assert state.now == 200 and state.notes == {} and len(state.onsets) == 2
    assert state.onset_rate() == pytest.approx(1.0)


def test_a_note_whose_onset_left_the_window_is_stated_again_at_its_start():
    notes = [Note(0, 60, 36, 80)] + [Note(1 + i * 0.5, 1.4 + i * 0.5, 60 + i % 5, 70) for i in range(40)]
    tokens = encode(notes, add_start=True)[:-1]   # the drone's note-off is not yet written
    state = PlayState()
    for t in tokens:
        state.feed(int(t))
    assert 36 in state.notes
    seen = window(tokens.astype(np.int64), 64, state)
    assert len(seen) == 64
    assert list(seen[:2]) == [tokens[1], NOTE_ON + 36]  # its velocity, then its note-on
    assert np.array_equal(seen[2:], tokens[-62:])
    assert NOTE_ON + 36 not in tokens[-62:]
    whole = window(tokens.astype(np.int64), len(tokens), state)
    assert np.array_equal(whole, tokens)  # nothing stranded when the window holds it all


def test_a_held_drone_survives_a_slide_and_decoding_ignores_the_restatement(model):
    start = [Note(0, 30, 36, 80)] + [Note(i * 0.25, i * 0.25 + 0.2, 60 + i % 7, 70) for i in range(100)]
    tokens, _ = primer_tokens(start)
    [new] = continue_tokens(model, tokens, length=200, seed=0)
    piece = decode(np.concatenate([tokens, new]))
    assert sum(1 for n in piece if n.pitch == 36 and n.start == 0.0) == 1   # the drone is one note, not re-struck
    assert len(piece) >= len(start)
    assert math.isfinite(metrics.longest_silence(piece, 0, max(n.end for n in piece)))


def test_auto_density_holds_the_primers_own_rate(model):
    start = primer()                                          # 16 notes over 7.9 s
    target = len(start) / max(n.end for n in start)
    notes = continuation(model, Controls(density="auto"), seconds=60)
    assert abs(len(notes) / 60 - target) / target <= 0.25


def test_key_pull_leans_toward_the_primers_profile():
    start = [Note(0, 6, 62, 70), Note(6, 8, 69, 70), Note(8, 9, 65, 70)]   # D held longest, then A, then F
    c = Constraint(Controls(key_pull=1.0), start, vocab_size())
    on = c.static[NOTE_ON:NOTE_ON + 128]
    assert on[62] == 0.0 and on[74] == 0.0                # the primer's main class, in any octave
    assert on[62] > on[69] > on[65] > on[61]              # then in order of sounding time; unused last
    assert on[61] == pytest.approx(math.log(0.01 / (6 / 9 + 0.01)))


def test_a_note_held_past_max_hold_is_pushed_to_end_and_silent_pitches_get_no_note_off():
    c = Constraint(Controls(max_hold=2.0), primer(), vocab_size())
    state = PlayState()
    for t in encode([Note(0, 10, 40, 70), Note(2.5, 10, 52, 70)])[:-2]:   # both still sounding at 10 s
        state.feed(int(t))
    bias = c.note_off_bias(state)
    assert bias[60] == 0.0                                                 # not held: no push
    assert bias[40] == pytest.approx(4.0 * math.log(10 / 2))               # held 10 s against 2 s
    assert bias[52] == pytest.approx(4.0 * math.log(7.5 / 2))
    auto = Constraint(Controls(max_hold="auto"), [Note(0, 30, 36, 70)] + primer(), vocab_size())
    assert auto.max_hold_steps == pytest.approx(4.0 / 0.01)                # 90th percentile of mostly 0.4 s notes


def test_max_hold_ends_the_notes_an_untrained_model_forgets(model):
    held = continuation(model, Controls(max_hold=2.0), seconds=40)
    free = continuation(model, Controls(max_polyphony=127), seconds=40)    # the same grammar, no guard
    assert max(n.end - n.start for n in held) < max(n.end - n.start for n in free)
    assert np.mean([n.end - n.start for n in held]) < 6.0


def test_auto_scale_brings_its_key_pull_unless_told_otherwise():
    assert Constraint(Controls(scale="auto"), primer(), vocab_size()).key_pull == 0.5
    assert Constraint(Controls(scale="auto", key_pull=0.0), primer(), vocab_size()).key_pull == 0.0
    assert Constraint(Controls(scale="D dorian"), primer(), vocab_size()).key_pull == 0.0


def test_note_offs_go_only_to_sounding_pitches_with_their_total_probability_kept():
    torch.manual_seed(5)
    logits = torch.randn(2, vocab_size())
    playing, silent = PlayState(), PlayState()
    for t in encode([Note(0, 10, 40, 70), Note(1, 10, 52, 70), Note(2, 3, 60, 70)])[:-3]:
        playing.feed(int(t))
    assert sorted(playing.notes) == [40, 52]                            # 60 has ended
    moved = release_sounding(logits, [playing, silent])
    offs, before = moved.softmax(-1)[:, NOTE_OFF:NOTE_OFF + 128], logits.softmax(-1)[:, NOTE_OFF:NOTE_OFF + 128]
    assert offs[0].sum() == pytest.approx(float(before[0].sum()), rel=1e-5)   # ending a note: as likely as before
    assert torch.nonzero(offs[0]).flatten().tolist() == [40, 52]
    assert float(offs[0, 40] / offs[0, 52]) == pytest.approx(float(before[0, 40] / before[0, 52]), rel=1e-4)
    assert offs[1].sum() == 0                                              # nothing sounds: no note-off at all
    silent.feed(NOTE_ON + 70)
    assert release_sounding(logits, [silent])[0, NOTE_OFF + 70] == -math.inf  # struck this instant: not yet
    keep = torch.ones(vocab_size(), dtype=torch.bool)
    keep[NOTE_OFF:NOTE_OFF + 128] = False
    assert torch.equal(moved[0, keep] - moved[0, keep][0], logits[0, keep] - logits[0, keep][0])


def test_every_generated_note_off_ends_a_sounding_note(model):
    tokens, _ = primer_tokens(primer())
    for controls in (None, Controls(scale="auto")):
        [new] = continue_tokens(model, tokens, length=400, seed=2, controls=controls)
        state = PlayState()
        for t in tokens:
            state.feed(int(t))
        for t in new.tolist():
            if NOTE_OFF <= t < TIME_SHIFT:
                assert t - NOTE_OFF in state.notes
            state.feed(t)
