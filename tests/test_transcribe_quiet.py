"""Quiet notes: a soft note under louder ones that never reaches frame_high, kept when the model
saw it struck and no louder pitch explains it (cleanup.quiet_regions)."""

from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ambient.transcribe.cleanup import AmbientCleanup, activations_to_notes, explained
from ambient.transcribe.profiles import PROFILES
from tests.test_transcribe import FPS, TIMES, activation

QUIET = AmbientCleanup(quiet_high=0.7, quiet_onset=0.5, quiet_rival=0.85, adaptive=0.0)  # bar: 0.7 × 0.45


def pitches(note: np.ndarray, onset: np.ndarray, s: AmbientCleanup) -> list[tuple[int, float, float]]:
    return [(n.pitch, round(n.start, 2), round(n.end, 2)) for n in activations_to_notes(note, onset, TIMES, s)]


def test_a_soft_struck_note_is_kept_with_its_pitch_and_times():
    note = activation({39: [(1.0, 2.0, 0.38)]})      # C4 at 0.38: under frame_high 0.45, over 0.7 × it
    onset = activation({39: [(1.0, 1.03, 0.7)]})
    [(pitch, start, end)] = pitches(note, onset, QUIET)
    assert pitch == 60 and abs(start - 1.0) < 0.02 and abs(end - 2.0) < 0.02


def test_without_its_onset_or_with_quiet_notes_off_or_under_the_bar_it_is_dropped():
    note = activation({39: [(1.0, 2.0, 0.38)]})
    onset = activation({39: [(1.0, 1.03, 0.7)]})
    assert pitches(note, np.zeros_like(note), QUIET) == []                      # never struck
    assert pitches(note, activation({39: [(1.0, 1.03, 0.45)]}), QUIET) == []      # onset under quiet_onset
    assert pitches(note, onset, replace(QUIET, quiet_high=0.0)) == []           # off
    assert pitches(activation({39: [(1.0, 2.0, 0.3)]}), onset, QUIET) == []       # under 0.7 × 0.45


def test_a_soft_note_a_louder_pitch_explains_is_dropped_but_an_unrelated_interval_is_kept():
    onset = activation({39: [(1.0, 1.03, 0.7)]})
    loud = lambda b: {b: [(0.5, 3.0, 0.9)]}
    for other in (39 + 12, 39 + 19, 39 - 12, 39 + 1, 39 - 1):   # octave-down mistake, twelfth, echo, bleed
        note = activation({39: [(1.0, 2.0, 0.38)], **loud(other)})
        assert [p for p, _, _ in pitches(note, onset, QUIET)] == [other + 21], other
    note = activation({39: [(1.0, 2.0, 0.38)], **loud(39 + 4)})     # a major third above: a chord, not a partial
    assert sorted(p for p, _, _ in pitches(note, onset, QUIET)) == [60, 64]


def test_explained_compares_the_loudest_related_pitch_at_the_notes_peak_with_the_ratio():
    note = activation({39: [(1.0, 2.0, 0.4)], 51: [(1.0, 2.0, 0.3)]})   # octave above at 0.75 × its level
    a, e = int(1.0 * FPS), int(2.0 * FPS)
    assert explained(note, 39, a, e, 0.7) and not explained(note, 39, a, e, 0.85)
    assert not explained(activation({39: [(1.0, 2.0, 0.4)]}), 39, a, e, 0.1)


def test_a_quiet_run_beside_a_loud_note_of_the_same_pitch_is_left_to_it():
    note = activation({39: [(1.0, 2.0, 0.9), (2.1, 3.0, 0.38)]})        # a re-swell within merge_gap
    onset = activation({39: [(1.0, 1.03, 0.9), (2.1, 2.13, 0.7)]})
    assert pitches(note, onset, QUIET) == pitches(note, onset, replace(QUIET, quiet_high=0.0))


run = st.tuples(st.floats(0.0, 4.0), st.floats(0.1, 1.5), st.floats(0.05, 1.0))


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.integers(30, 50), st.lists(run, max_size=3), max_size=6),
       st.lists(st.tuples(st.integers(30, 50), st.floats(0.0, 4.5)), max_size=8))
def test_quiet_notes_only_add_notes_to_what_the_loud_ones_give(spec, strikes):
    note = activation({b: [(s, s + d, v) for s, d, v in runs] for b, runs in spec.items()})
    onset = activation({b: [(t, t + 0.03, 0.8)] for b, t in strikes})
    pluck = PROFILES["pluck"]
    loud_only = set(pitches(note, onset, replace(pluck, quiet_high=0.0)))
    with_quiet = set(pitches(note, onset, pluck))
    assert loud_only <= with_quiet
