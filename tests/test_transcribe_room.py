"""The room a file was played in, heard from its sound (`sound.room_fall`), and what the pluck
profile does with it: in a dry room no tail follows a note, so a note may fall further before
it ends."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ambient.notes import Note
from ambient.transcribe import PROFILES, AmbientCleanup, transcriber
from ambient.transcribe.sound import DRY_FALL_DB, band_levels, room_fall
from tests.test_transcribe_profiles import FPS, PLUCK, RATE, TIMES, play, pluck_then_hold


def plucks(seed: int = 4) -> list[Note]:
    rng = np.random.default_rng(seed)
    return [Note(0.3 + 0.9 * i, 0.9 + 0.9 * i, int(rng.integers(48, 72)), 90) for i in range(10)]


def test_a_dry_room_lets_sound_fall_60_db_in_half_a_second_and_a_reverberant_one_does_not():
    dry = room_fall(play(PLUCK, plucks()), RATE)
    room, hall = room_fall(play(PLUCK, plucks(), 1.0), RATE), room_fall(play(PLUCK, plucks(), 4.0), RATE)
    assert dry >= DRY_FALL_DB > room > hall
    # an exponential room falls 60 dB in its RT60, so about 30 dB in half a second of a 1 s room
    assert 20 < room < 45


@pytest.mark.parametrize("cut", [5.0, 8.0])
def test_an_excerpt_cut_off_mid_note_falls_into_silence_but_is_not_heard_as_dry(cut):
    silence = np.zeros(int(0.3 * RATE), np.float32)
    wet, dry = play(PLUCK, plucks(), 3.0), play(PLUCK, plucks())
    assert room_fall(np.concatenate([wet[:int(cut * RATE)], silence]), RATE) < 40
    # a dry piece cut off is still dry: its own releases fell into silence before the cut
    assert room_fall(np.concatenate([dry[:int(cut * RATE)], silence]), RATE) >= DRY_FALL_DB


def test_a_last_note_let_go_into_silence_shows_a_dry_room():
    # one note, released into the file's trailing silence: the only fall there is
    audio = play(PLUCK, [Note(0.2, 1.5, 60, 90)])
    assert room_fall(np.concatenate([audio, np.zeros(RATE // 2, np.float32)]), RATE) >= DRY_FALL_DB


def test_silence_and_a_file_shorter_than_the_fall_have_no_fall():
    assert room_fall(np.zeros(RATE * 2, np.float32), RATE) == 0.0
    assert room_fall(play(PLUCK, [Note(0.0, 0.1, 60, 90)])[:RATE // 4], RATE) == 0.0


@settings(max_examples=15, deadline=None)
@given(seconds=st.floats(0.05, 3.0), chunk=st.integers(1, 300))
def test_band_levels_are_the_same_whatever_the_chunk(seconds, chunk):
    audio = np.random.default_rng(3).standard_normal(int(seconds * RATE)).astype(np.float32)
    whole = band_levels(audio, RATE, chunk=10**6)
    assert whole.shape == (1 + len(audio) // 256, 14)
    assert np.allclose(whole, band_levels(audio, RATE, chunk=chunk), atol=1e-3)  # dB; the FFT rounds per batch


def test_in_a_dry_room_the_pluck_profile_takes_its_dry_knee_and_spends_the_dry_knobs():
    pluck = PROFILES["pluck"]
    dry, wet = play(PLUCK, plucks()), play(PLUCK, plucks(), 3.0)
    in_dry = pluck.for_room(dry, RATE)
    assert (in_dry.knee_ratio, in_dry.knee_settle) == (pluck.dry_knee_ratio, pluck.dry_knee_settle)
    in_wet = pluck.for_room(wet, RATE)
    assert (in_wet.knee_ratio, in_wet.knee_settle) == (pluck.knee_ratio, pluck.knee_settle)
    for spent in (in_dry, in_wet):
        assert spent.dry_knee_ratio == spent.dry_knee_settle == 0.0
        assert spent.for_room(dry, RATE) == spent  # spent settings stay as they are in any room
    assert PROFILES["pad"].for_room(dry, RATE) == PROFILES["pad"]  # pads keep one knee everywhere


def test_a_plucked_note_that_decays_and_holds_lasts_to_its_release_only_in_a_dry_room():
    # the attack decays over half a second to 0.3, which holds until 3 s: judged
    # from 0.3 s on against 0.675 of the attack's decayed level, it "gave way" early; from
    # 1.2 s on, against the held level, it lasts to its release
    act = np.zeros((len(TIMES), 88), np.float32)
    act[:, 40] = pluck_then_hold(3.0, sustain=0.3, peak=0.85)
    onset = np.zeros_like(act)
    onset[0, 40] = 0.9
    post = {"note": act, "onset": onset, "times": TIMES}
    settings = replace(PROFILES["pluck"], adaptive=0.0)
    [in_dry] = settings.notes(None, post, play(PLUCK, plucks()))
    [in_wet] = settings.notes(None, post, play(PLUCK, plucks(), 3.0))
    assert in_dry.end == pytest.approx(3.0, abs=2 / FPS)
    assert in_wet.end < 1.0


def test_the_settings_a_midi_file_records_give_its_notes_again():
    audio = play(PLUCK, plucks())
    act = np.zeros((len(TIMES), 88), np.float32)
    act[:, 40] = pluck_then_hold(3.0, sustain=0.3, peak=0.85)
    post = {"note": act, "onset": np.zeros_like(act), "times": TIMES}
    auto = transcriber("ambient", "auto")
    chosen = auto.resolve(audio, RATE)
    recorded = {k: v for k, v in chosen.settings().items() if k != "profile"}
    assert AmbientCleanup(**recorded).notes(None, post, audio) == auto.notes(None, post, audio)


def test_a_knee_the_user_sets_holds_in_every_room_unless_they_set_a_dry_one_too():
    dry = play(PLUCK, plucks())
    mine = transcriber("ambient", "pluck", knee_ratio=0.7).resolve(dry, RATE)
    assert (mine.knee_ratio, mine.knee_settle) == (0.7, PROFILES["pluck"].knee_settle)
    both = transcriber("ambient", "pluck", knee_ratio=0.7, dry_knee_ratio=0.5).resolve(dry, RATE)
    assert (both.knee_ratio, both.knee_settle) == (0.5, PROFILES["pluck"].dry_knee_settle)
