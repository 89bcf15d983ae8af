"""The procedural composer: every family in the key, mode, density and lengths asked for."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ambient.compose import (DENSITY, FAMILIES, FRAMES, LEVEL, MODES, OVERTONES, SHORTEST, SPREAD, Hearing, Recipe,
                             as_heard, compose, key_number, random_hearing, random_recipe)
from ambient.errors import ParameterError
from ambient.midi import read_midi


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(FAMILIES), st.integers(0, 11), st.sampled_from(sorted(MODES)),
       st.floats(DENSITY[0], DENSITY[1]), st.floats(20, 90), st.integers(0, 10_000))
def test_every_family_stays_in_its_key_and_mode_and_inside_the_piece(family, key, mode, density, seconds, seed):
    notes = compose(Recipe(families=(family,), key=key, mode=mode, seconds=seconds, density=density), seed)
    assert notes, family
    allowed = {(key + step) % 12 for step in MODES[mode]}
    assert {n.pitch % 12 for n in notes} <= allowed
    assert all(0 <= n.start < n.end <= seconds + 1e-9 for n in notes)
    assert all(n.end - n.start >= SHORTEST - 1e-9 for n in notes)
    assert all(1 <= n.velocity <= 127 and 0 <= n.pitch <= 127 for n in notes)
    assert notes == sorted(notes, key=lambda n: (n.start, n.pitch, n.end))


def test_a_drone_holds_for_tens_of_seconds_and_never_stops():
    notes = compose(Recipe(families=("drone",), key=9, mode="aeolian", seconds=300), seed=3)
    assert max(n.end - n.start for n in notes) >= 20
    covered = np.zeros(300)
    for n in notes:
        covered[int(n.start):int(np.ceil(n.end))] = 1
    assert covered[2:].all()                          # sounding from the first seconds to the end
    assert {n.pitch % 12 for n in notes} >= {9}       # the tonic is in it


@pytest.mark.parametrize("density", [0.5, 4.0, 15.0])
def test_an_ostinato_plays_at_the_density_asked(density):
    notes = compose(Recipe(families=("ostinato",), seconds=120, density=density), seed=1)
    rate = len(notes) / 120
    assert density * 0.85 <= rate <= density * 1.15 if density >= 1 / 0.6 else rate == pytest.approx(1 / 0.6, rel=0.1)


def test_loops_of_unequal_lengths_phase():
    notes = compose(Recipe(families=("loops",), seconds=240, density=0.5), seed=2)
    by_pitch_onsets = {}
    for n in notes:
        by_pitch_onsets.setdefault(n.pitch, []).append(round(n.start, 3))
    # each loop repeats: some pitch comes back at least three times
    assert max(len(v) for v in by_pitch_onsets.values()) >= 3
    first_minute = [(round(n.start % 60, 2), n.pitch) for n in notes if n.start < 60]
    second_minute = [(round(n.start % 60, 2), n.pitch) for n in notes if 60 <= n.start < 120]
    assert first_minute != second_minute     # unequal loops: the whole does not repeat by the minute


def test_the_same_seed_gives_the_same_piece_and_another_seed_another():
    recipe = Recipe(families=("pad", "melody"), key=key_number("F#"), mode="lydian", seconds=60)
    assert compose(recipe, 4) == compose(recipe, 4)
    assert compose(recipe, 4) != compose(recipe, 5)


def test_random_recipes_cover_keys_modes_and_densities():
    rng = np.random.default_rng(0)
    recipes = [random_recipe(rng) for _ in range(300)]
    assert {r.key for r in recipes} == set(range(12))
    assert {r.mode for r in recipes} == set(MODES)
    densities = [r.density for r in recipes]
    assert min(densities) < 0.5 and max(densities) > 8


@settings(max_examples=25, deadline=None)
@given(opening=st.floats(10, 60), seed=st.integers(0, 10_000))
def test_an_opening_brings_the_layers_in_one_by_one_within_it(opening, seed):
    families = ("drone", "ostinato", "melody")
    layered = compose(Recipe(families=families, seconds=150, density=4.0, opening=opening), seed)
    whole = compose(Recipe(families=families, seconds=150, density=4.0), seed)
    # after the opening every layer sounds as it was written; before it some have not entered
    after = [n for n in whole if n.start >= opening]
    assert [n for n in layered if n.start >= opening] == after
    assert {n.pitch % 12 for n in layered} <= {(2 + s) % 12 for s in MODES["dorian"]}
    first = sum(1 for n in layered if n.start < opening)
    assert first < sum(1 for n in whole if n.start < opening)
    # the first layer (the drone) opens the piece: something sounds from the first seconds
    assert min(n.start for n in layered) < 3.0
    assert all(n.end - n.start >= SHORTEST - 1e-9 for n in layered)


def test_random_recipes_mostly_open_by_building():
    rng = np.random.default_rng(1)
    recipes = [random_recipe(rng) for _ in range(400)]
    openings = [r.opening for r in recipes]
    assert 0.78 < np.mean([o > 0 for o in openings]) < 0.92
    assert all(o == 0 or 10 <= o <= min(60, r.seconds / 2) for o, r in zip(openings, recipes))


def test_heard_as_a_transcription_breaks_held_notes_into_short_restrikes_of_the_same_pitches():
    notes = compose(Recipe(families=("drone", "pad"), seconds=120), seed=0)
    heard = as_heard(notes, Hearing(restrike=0.25, dropout=0.0, ghosts=0.0, jitter=0.0, voices=12), seed=0)
    assert {n.pitch for n in heard} == {n.pitch for n in notes}
    assert len(heard) > 10 * len(notes)
    assert np.median([n.end - n.start for n in heard]) < 0.5
    written, heard_velocity = np.median([n.velocity for n in notes]), np.median([n.velocity for n in heard])
    # the transcriber's narrow band, from the written level down to that of 0.8 of it (a held sound's floor)
    band = [LEVEL + SPREAD * (v - LEVEL) for v in (0.8 * written, written)]
    assert band[0] - 3 <= heard_velocity <= band[1] + 3
    assert np.std([n.velocity for n in heard]) < np.std([n.velocity for n in notes]) + 6
    thin = as_heard(notes, Hearing(restrike=0.25, voices=2), seed=0)
    assert all(sum(1 for m in thin if m.start <= n.start < m.end) <= 2 for n in thin)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), transcriber=st.sampled_from(sorted(FRAMES)))
def test_a_transcription_writes_every_onset_and_end_on_its_frame_grid(seed, transcriber):
    frame = FRAMES[transcriber]
    notes = compose(Recipe(families=("pad", "ostinato"), seconds=30, density=4.0), seed=seed)
    heard = as_heard(notes, Hearing(restrike=0.2, jitter=0.03, frame=frame), seed=seed)
    assert heard
    for n in heard:
        for t in (n.start, n.end):
            assert abs(t / frame - round(t / frame)) < 1e-6, (transcriber, t)
        assert n.end - n.start >= frame - 1e-9
    loose = as_heard(notes, Hearing(restrike=0.2, jitter=0.03, frame=0.0), seed=seed)
    assert any(abs(n.start / frame - round(n.start / frame)) > 0.01 for n in loose)  # no grid without one


def test_ghosts_sound_only_an_overtone_above_a_heard_strike():
    notes = compose(Recipe(families=("drone", "pad"), seconds=60), seed=3)
    heard = as_heard(notes, Hearing(restrike=0.3, ghosts=1.0, dropout=0.0, jitter=0.0, voices=64), seed=3)
    written = {n.pitch for n in notes}
    ghosts = {n.pitch for n in heard} - written
    assert ghosts and all(any(g - o in written for o in OVERTONES) for g in ghosts)


@pytest.mark.parametrize("seed", range(4))
def test_heard_levels_follow_slow_swells_so_successive_strikes_sit_close(seed):
    notes = compose(Recipe(families=("drone", "pad", "ostinato"), seconds=90, density=3.0), seed=seed)
    heard = as_heard(notes, Hearing(restrike=0.3), seed=seed)
    levels = [n.velocity for n in sorted(heard, key=lambda n: (n.start, n.pitch))]
    # independent levels would give a step sqrt(2) times the spread; the records' about 1 (corpus_texture: 6.2 and 6.3)
    assert np.std(np.diff(levels)) < 1.1 * np.std(levels)
    assert 3 < np.std(levels) < 12


def test_random_hearings_use_both_transcribers_grids():
    rng = np.random.default_rng(0)
    assert {random_hearing(rng).frame for _ in range(40)} == set(FRAMES.values())


def test_bad_recipes_name_the_field():
    with pytest.raises(ParameterError, match="families"):
        Recipe(families=("glitch",))
    with pytest.raises(ParameterError, match="mode"):
        Recipe(mode="locrian-ish")
    with pytest.raises(ParameterError, match="density"):
        Recipe(density=40)
    with pytest.raises(ParameterError, match="opening"):
        Recipe(seconds=60, opening=45)
    with pytest.raises(ParameterError, match="key"):
        key_number("H")


def test_ambient_compose_writes_a_midi_file_and_refuses_a_bad_mode(tmp_path):
    out = tmp_path / "drone.mid"
    ok = subprocess.run([sys.executable, "-m", "ambient", "compose", "-o", out, "--families", "drone,loops",
                         "--key", "Eb", "--mode", "lydian", "--seconds", "40", "--opening", "15"],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    notes = read_midi(out)
    assert {n.pitch % 12 for n in notes} <= {(3 + s) % 12 for s in MODES["lydian"]}
    asked = compose(Recipe(families=("drone", "loops"), key=3, mode="lydian", seconds=40, opening=15), 0)
    assert [n.pitch for n in notes] == [n.pitch for n in asked]            # the opening asked for, through MIDI
    assert [n.start for n in notes] == pytest.approx([n.start for n in asked], abs=0.01)
    bad = subprocess.run([sys.executable, "-m", "ambient", "compose", "-o", tmp_path / "x.mid", "--mode", "blues"],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.strip().count("\n") == 0 and "--mode" in bad.stderr
    assert not (tmp_path / "x.mid").exists()
