"""A plucked note's end at its release: where its own pitch's level in the audio first falls
steeply (`cleanup.release_end`, from `sound.pitch_levels`), not where the model's activation
gave way."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ambient.transcribe import PROFILES
from ambient.transcribe.cleanup import activations_to_notes, release_end
from ambient.transcribe.sound import pitch_levels
from tests.test_transcribe_profiles import FPS, PLUCK, RATE, TIMES, play
from tests.test_transcribe_room import plucks

A4 = 69 - 21  # its column in the 88 keys
SETTINGS = replace(PROFILES["pluck"], adaptive=0.0, release_drop=10.0, release_span=0.3, release_room=0.0,
                   release_guard=1.25, release_reach=0.0)
REACHING = replace(SETTINGS, release_reach=2.0, release_rise=6.0)


def test_each_key_hears_its_own_fundamental_and_the_level_falls_when_it_stops():
    t = np.arange(int(2.0 * RATE)) / RATE
    audio = (0.3 * np.sin(2 * np.pi * 440.0 * t) * (t < 1.0)).astype(np.float32)
    frames = 1 + len(audio) // 256
    levels = pitch_levels(audio, RATE, frames + 10)
    assert levels.shape == (frames + 10, 88) and (levels[frames:] == -120.0).all()  # padded to the frames asked
    middle = levels[int(0.5 * RATE / 256)]
    assert middle.argmax() == A4
    assert middle[A4] - max(middle[A4 - 1], middle[A4 + 1]) > 25  # a semitone away hears little of it
    assert levels[int(0.5 * RATE / 256), A4] - levels[int(1.5 * RATE / 256), A4] > 60
    assert pitch_levels(audio, RATE, 5).shape == (5, 88)  # cut to the frames asked


@settings(max_examples=10, deadline=None)
@given(seconds=st.floats(0.05, 2.0), chunk=st.integers(1, 200))
def test_pitch_levels_are_the_same_whatever_the_chunk(seconds, chunk):
    audio = np.random.default_rng(7).standard_normal(int(seconds * RATE)).astype(np.float32)
    frames = 1 + len(audio) // 256
    assert np.allclose(pitch_levels(audio, RATE, frames, chunk=chunk), pitch_levels(audio, RATE, frames), atol=1e-2)


def decaying_string(release: float = 2.5) -> np.ndarray:
    """A plucked string's activation: it falls from 0.85 to 0.3 while held, then stops."""
    act = np.zeros(len(TIMES), np.float32)
    n = int(release * FPS)
    act[:n] = np.linspace(0.85, 0.3, n)
    return act


def level(rates: list[tuple[float, float]]) -> np.ndarray:
    """A pitch's level in dB: from 0 dB, falling at each (dB per second) until each time."""
    t, out, at, db = TIMES, np.zeros(len(TIMES), np.float32), 0.0, 0.0
    for until, rate in rates:
        span = (t >= at) & (t < until)
        out[span] = db - rate * (t[span] - at)
        db -= rate * (until - at)
        at = until
    out[t >= at] = db
    return out


def test_a_string_let_go_ends_at_its_release_not_where_its_activation_gave_way():
    act, let_go, at_knee = decaying_string(2.5), level([(2.5, 10.0), (4.0, 80.0)]), int(1.45 * FPS)
    end = release_end(let_go, act, 0, at_knee, len(act), SETTINGS, FPS)
    # the first 0.3 s window that falls 10 dB starts 0.2 s before the release (10 dB/s, then 80)
    assert end / FPS == pytest.approx(2.3, abs=0.03)
    assert release_end(let_go, act, 0, at_knee, len(act), replace(SETTINGS, release_drop=0.0), FPS) == at_knee


def test_a_release_the_knee_already_caught_is_kept_and_the_end_never_passes_the_activations_fall():
    act = decaying_string(2.5)
    slow_release = level([(1.45, 0.0), (1.95, 15.0), (4.0, 80.0)])  # a synthesizer's release, slow at first
    at_knee = int(1.45 * FPS)
    assert release_end(slow_release, act, 0, at_knee, len(act), SETTINGS, FPS) == at_knee
    unguarded = release_end(slow_release, act, 0, at_knee, len(act), replace(SETTINGS, release_guard=0.0), FPS)
    assert unguarded / FPS == pytest.approx(1.74, abs=0.03)  # where 15 dB/s, then 80, first falls 10 in 0.3 s
    late_fall = level([(3.5, 10.0), (5.0, 80.0)])  # the audio falls a second after the model stopped hearing it
    assert release_end(late_fall, act, 0, at_knee, len(act), SETTINGS, FPS) == at_knee  # release_reach 0
    early = release_end(level([(0.2, 60.0), (4.0, 5.0)]), act, 0, at_knee, len(act), SETTINGS, FPS)
    assert early == at_knee  # the attack's own fall, inside knee_settle, is not a release


def test_a_fall_over_before_the_knees_end_is_the_attacks_decay_and_does_not_hide_the_release():
    act, at_knee = decaying_string(2.5), int(1.45 * FPS)
    # 40 dB a second from 0.3 s to 0.8 s (after knee_settle), then held at 5 dB a second until
    # let go at 2.5 s: the early fall ended long before the knee's end, so the look goes past it
    early_decay = level([(0.3, 0.0), (0.8, 40.0), (2.5, 5.0), (4.0, 80.0)])
    end = release_end(early_decay, act, 0, at_knee, len(act), SETTINGS, FPS)
    assert end / FPS == pytest.approx(2.32, abs=0.03)  # where 5 dB/s, then 80, first falls 10 in 0.3 s
    # a fall still under way at the knee's end is the release the knee caught, guard or not
    caught = level([(1.3, 5.0), (1.6, 40.0), (2.5, 5.0), (4.0, 80.0)])
    for guard in (SETTINGS.release_guard, 0.0):
        assert release_end(caught, act, 0, at_knee, len(act), replace(SETTINGS, release_guard=guard), FPS) == at_knee


def test_only_a_room_that_lets_sound_fall_fast_enough_keeps_the_release_and_the_gate_is_spent():
    pluck = PROFILES["pluck"]
    assert pluck.release_drop > 0 and pluck.release_room > 0
    dry, hall = play(PLUCK, plucks()), play(PLUCK, plucks(), 4.0)
    in_dry, in_hall = pluck.for_room(dry, RATE), pluck.for_room(hall, RATE)
    assert in_dry.release_drop == pluck.release_drop and in_hall.release_drop == 0.0
    for spent in (in_dry, in_hall):
        assert spent.release_room == 0.0 and spent.for_room(hall, RATE) == spent


def test_a_held_note_that_decays_out_of_the_models_hearing_ends_at_its_release_within_reach():
    act, at_knee = decaying_string(2.5), int(1.45 * FPS)  # the model stops hearing it at 2.5 s
    late_fall = level([(3.5, 10.0), (5.0, 80.0)])  # the key is let go at 3.5 s
    # the first 0.3 s window that falls 10 dB starts 0.2 s before the release (10 dB/s, then 80)
    assert release_end(late_fall, act, 0, at_knee, len(act), REACHING, FPS) / FPS == pytest.approx(3.3, abs=0.03)
    # out of reach: looking 0.5 s past 2.5 s never finds it
    assert release_end(late_fall, act, 0, at_knee, len(act), replace(REACHING, release_reach=0.5), FPS) == at_knee
    # the pitch's next note starts at 3 s: this one cannot run into it
    assert release_end(late_fall, act, 0, at_knee, len(act), REACHING, FPS, limit=int(3.0 * FPS)) == at_knee


def test_a_level_that_rises_after_the_model_stopped_hearing_the_note_is_another_sound():
    act, at_knee = decaying_string(2.5), int(1.45 * FPS)
    t = TIMES
    other = level([(3.5, 10.0), (5.0, 80.0)]) + np.where((t >= 2.8) & (t < 3.5), 10.0, 0.0).astype(np.float32)
    # 10 dB more at 2.8 s (another note's partial in this key's band): the look stops there
    assert release_end(other, act, 0, at_knee, len(act), REACHING, FPS) == at_knee
    assert release_end(other, act, 0, at_knee, len(act), replace(REACHING, release_rise=12.0), FPS) > 3.0 * FPS


def test_a_short_note_let_go_before_knee_settle_keeps_its_end_whatever_falls_later():
    # let go at 0.4 s; a second later the key's band falls again (something else): the search
    # starts at the knee's end, in the release's own fall, not knee_settle seconds in (the
    # guard is off: it would keep this end on its own)
    act = np.zeros(len(TIMES), np.float32)
    act[:int(0.45 * FPS)] = 0.8
    at_knee = int(0.45 * FPS)
    later = level([(0.4, 0.0), (0.65, 80.0), (1.5, 0.0), (1.8, 80.0)])
    s = replace(REACHING, knee_settle=1.2, release_guard=0.0)
    assert release_end(later, act, 0, at_knee, len(act), s, FPS) == at_knee
    held = level([(1.5, 5.0), (1.8, 80.0)])  # the same note held to 1.5 s: its release is found
    assert release_end(held, act, 0, at_knee, len(act), s, FPS) / FPS == pytest.approx(1.3, abs=0.03)


def test_in_the_notes_a_held_note_reaches_its_release_but_never_the_next_note_of_its_pitch():
    act = np.zeros((len(TIMES), 88), np.float32)
    act[:, 40] = decaying_string(2.5)
    onset = np.zeros_like(act)
    onset[0, 40] = 0.9
    keys = np.full((len(TIMES), 88), -120.0, np.float32)
    keys[:, 40] = level([(3.5, 10.0), (5.0, 80.0)])
    post = (onset, TIMES)
    [alone] = activations_to_notes(act, *post, REACHING.for_file(act), None, keys)
    assert alone.end == pytest.approx(3.3, abs=0.03)
    again = act.copy()
    again[int(3.0 * FPS):int(4.0 * FPS), 40] = 0.8  # the key struck again at 3 s
    onset[int(3.0 * FPS), 40] = 0.9
    first, second = activations_to_notes(again, *post, REACHING.for_file(again), None, keys)
    assert second.start == pytest.approx(3.0, abs=0.03) and first.end <= second.start


@settings(max_examples=40, deadline=None)
@given(held=st.floats(0.5, 4.0), let_go=st.floats(0.5, 8.0), rate=st.floats(0.0, 30.0),
       reach=st.floats(0.0, 4.0), rise=st.floats(0.0, 12.0), next_note=st.floats(1.0, 10.0))
def test_an_end_only_moves_later_and_never_into_the_pitchs_next_note(held, let_go, rate, reach, rise, next_note):
    act, at_knee = decaying_string(held), int(0.4 * held * FPS)
    keys = level([(let_go, rate), (let_go + 1.0, 80.0)])
    limit = max(int(next_note * FPS), int(held * FPS))  # the next note starts after this one's region
    s = replace(REACHING, release_reach=reach, release_rise=rise)
    end = release_end(keys, act, 0, at_knee, int(held * FPS), s, FPS, limit=limit)
    assert at_knee <= end <= limit
