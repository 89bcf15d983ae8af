"""The clean-up's newer steps on activations with known answers, the profile choice on
synthetic sound with known attacks, the bar grid, and the command line around them."""

import json
from dataclasses import replace
import subprocess
import sys

import numpy as np
import pytest
import symusic
from hypothesis import given, settings
from hypothesis import strategies as st
from pedalboard import Pedalboard

from ambient.audio import TRANSCRIBER_RATE
from ambient.errors import ParameterError
from ambient.midi import read_midi, write_midi
from ambient.notes import Note
from ambient.render import render
from ambient.render.presets import Preset
from ambient.render.synth import Layer, SynthVoices, Voice
from ambient.transcribe import PROFILES, AmbientCleanup, AutoCleanup, BasicPitchDefaults, transcriber
from ambient.transcribe.cleanup import (CLEAR_NOTE, activations_to_notes, file_scale, held_level, note_end,
                                       strongest_two)
from ambient.transcribe.sound import choose_profile
from ambient.transcribe.grid import BeatGrid, beat_grid, parse_tempo

FPS = 86.0
TIMES = np.arange(1200) / FPS
RATE = TRANSCRIBER_RATE


def held_then_tail(held: float, level: float = 0.8, tail_seconds: float = 3.0) -> np.ndarray:
    """One pitch's activation: a plateau for `held` seconds, then a reverb tail that dies
    away exponentially (still above the frame thresholds for a long while)."""
    a = np.zeros(len(TIMES), np.float32)
    n = int(held * FPS)
    a[:n] = level
    t = np.arange(int(tail_seconds * FPS)) / FPS
    a[n:n + len(t)] = level * np.exp(-t / 1.2)
    return a


def test_a_note_ends_where_its_held_level_gives_way_not_where_the_room_stops_ringing():
    act = held_then_tail(2.0)
    knee = AmbientCleanup(release_ratio=0.4, release_hold=0.3, knee_ratio=0.9)
    # where it first fell under 0.9 of its level: 1.2 ln(1/0.9) = 0.13 s into the tail
    assert note_end(act, 0, len(act), knee, FPS) == pytest.approx((2.0 + 1.2 * np.log(1 / 0.9)) * FPS, abs=2)
    crossing = AmbientCleanup(release_ratio=0.4, release_hold=0.3, knee_ratio=0.0)
    # without the knee, at the crossing: 0.8 e^(-t/1.2) = 0.32 when t = 1.2 ln 2.5 = 1.1 s
    assert note_end(act, 0, len(act), crossing, FPS) == pytest.approx((2.0 + 1.2 * np.log(2.5)) * FPS, abs=2)


def pluck_then_hold(held: float, sustain: float = 0.35, peak: float = 0.85) -> np.ndarray:
    """A plucked note's activation: an attack at `peak` decaying over half a second to a
    `sustain` level that holds until the key is let go at `held` seconds, then silence."""
    a = np.zeros(len(TIMES), np.float32)
    decay = int(0.5 * FPS)
    a[:decay] = np.linspace(peak, sustain, decay)
    a[decay:int(held * FPS)] = sustain
    return a


def test_after_knee_settle_a_plucked_note_ends_at_its_release_not_where_its_attack_decayed():
    act = pluck_then_hold(3.0)
    attack = AmbientCleanup(release_ratio=0.2, release_hold=0.3, knee_ratio=0.7)
    # judged against the attack, the note "gave way" at 0.7 x 0.85 = 0.595: the decay falls
    # 1.0 per second, so 0.255 s in
    assert note_end(act, 0, len(act), attack, FPS) == pytest.approx(0.255 * FPS, abs=2)
    settled = replace(attack, knee_settle=0.6)
    assert note_end(act, 0, len(act), settled, FPS) == int(3.0 * FPS)


def test_knee_settle_never_forgets_the_held_level_so_a_hall_tail_still_ends_the_note():
    act = held_then_tail(2.0)  # no attack decay: the plateau is the held level throughout
    settled = AmbientCleanup(release_ratio=0.4, release_hold=0.3, knee_ratio=0.9, knee_settle=0.6)
    assert note_end(act, 0, len(act), settled, FPS) == pytest.approx((2.0 + 1.2 * np.log(1 / 0.9)) * FPS, abs=2)


@settings(max_examples=30, deadline=None)
@given(settle=st.integers(0, 40), values=st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=60))
def test_held_level_is_the_running_peak_counted_afresh_after_settle(settle, values):
    seg = np.array(values, np.float32)
    held = held_level(seg, settle)
    first = settle if 0 < settle < len(seg) else 0
    for i in range(len(seg)):
        window = seg[first:i + 1] if i >= first else seg[:i + 1]
        assert held[i] == window.max()


def test_a_restrike_must_be_about_as_strong_as_the_strongest_onset_of_the_moment():
    """A chord struck on other pitches makes a held note's onset flicker and its activation
    jump; only an onset near the chord's own strength is this pitch struck again."""
    note = np.zeros((len(TIMES), 88), np.float32)
    onset = np.zeros_like(note)
    note[10:400, 30] = 0.6
    note[200:400, 30] = 0.8           # the held note's activation jumps when the chord comes in
    onset[10, 30] = 0.9
    note[200:400, 40] = note[200:400, 44] = 0.8
    onset[200, 40] = onset[200, 44] = 0.95
    onset[200, 30] = 0.65             # a flicker: 0.68 of the chord's onsets
    s = AmbientCleanup(restrike_onset=0.6, restrike_rise=0.1, knee_ratio=0.0, adaptive=0.0)
    assert [n.start for n in activations_to_notes(note, onset, TIMES, s) if n.pitch == 51] == \
        [pytest.approx(TIMES[10]), pytest.approx(TIMES[200])]          # split, without the share
    shared = replace(s, restrike_share=0.8)
    assert [n.start for n in activations_to_notes(note, onset, TIMES, shared) if n.pitch == 51] == \
        [pytest.approx(TIMES[10])]
    onset[200, 30] = 0.9              # struck with the chord: a re-strike
    assert [n.start for n in activations_to_notes(note, onset, TIMES, shared) if n.pitch == 51] == \
        [pytest.approx(TIMES[10]), pytest.approx(TIMES[200])]


def test_strongest_two_names_the_strongest_pitch_and_the_runner_up():
    onset = np.array([[0.1, 0.9, 0.3], [0.5, 0.5, 0.2], [0.0, 0.0, 0.7]], np.float32)
    (first, where), second = strongest_two(onset)
    assert first.tolist() == pytest.approx([0.9, 0.5, 0.7])
    assert second.tolist() == pytest.approx([0.3, 0.5, 0.0])
    assert where[0] == 1 and where[2] == 2
    many = np.random.default_rng(0).random((1000, 88), dtype=np.float32)
    (first, where), second = strongest_two(many, chunk=97)  # chunks that do not divide the frames
    ranked = np.sort(many, axis=1)
    assert np.array_equal(first, ranked[:, -1]) and np.array_equal(second, ranked[:, -2])
    assert np.array_equal(where, many.argmax(axis=1))


def test_a_dip_shorter_than_release_hold_does_not_end_the_note():
    act = np.full(300, 0.8, np.float32)
    act[100:110] = 0.1  # 0.12 s
    s = AmbientCleanup(release_ratio=0.4, release_hold=0.3, knee_ratio=0.0)
    assert note_end(act, 0, 300, s, FPS) == 300
    act[100:140] = 0.1  # 0.47 s: a real end
    assert note_end(act, 0, 300, s, FPS) == 100


@settings(max_examples=40, deadline=None)
@given(held=st.floats(0.5, 6.0), level=st.floats(0.5, 1.0))
def test_held_notes_end_at_their_release_whatever_their_length_and_level(held, level):
    note = np.zeros((len(TIMES), 88), np.float32)
    note[:, 30] = held_then_tail(held, level)
    note[:3, 30] = 0  # starts at frame 3
    knee = AmbientCleanup(release_ratio=0.4, release_hold=0.3, knee_ratio=0.9)
    [n] = activations_to_notes(note, np.zeros_like(note), TIMES, knee)
    assert n.pitch == 51 and abs(n.end - (held + 1.2 * np.log(1 / 0.9))) < 2 / FPS


def test_thresholds_follow_how_sure_the_model_is_of_the_file():
    sure, unsure = np.zeros((500, 88), np.float32), np.zeros((500, 88), np.float32)
    sure[:, 10], unsure[:, 10] = 0.9, 0.4
    s = AmbientCleanup(adaptive=1.0)
    assert file_scale(sure, s) == 1.0
    assert file_scale(unsure, s) == pytest.approx(0.4 / CLEAR_NOTE)
    assert file_scale(unsure, AmbientCleanup(adaptive=0.0)) == 1.0
    # a note whose activation never reaches frame_high is found once the threshold follows the file
    fixed, adapted = AmbientCleanup(adaptive=0.0), AmbientCleanup(adaptive=1.0)
    assert activations_to_notes(unsure, np.zeros_like(unsure), TIMES[:500], fixed) == []
    assert len(fixed.notes(None, {"note": unsure, "onset": np.zeros_like(unsure), "times": TIMES[:500]},
                           np.ones(RATE))) == 0
    [n] = adapted.notes(None, {"note": unsure, "onset": np.zeros_like(unsure), "times": TIMES[:500]}, np.ones(RATE))
    assert n.pitch == 31


def play(voice: Voice, notes: list[Note], reverb_seconds: float = 0.0) -> np.ndarray:
    audio = SynthVoices(notes, voice, RATE, seed=1).block(0, int((max(n.end for n in notes) + 1) * RATE)).mean(axis=0)
    if reverb_seconds:  # a plain exponential-noise room
        t = np.arange(int(reverb_seconds * RATE)) / RATE
        ir = np.random.default_rng(0).standard_normal(len(t)) * np.exp(-6.9 * t / reverb_seconds)
        wet = np.convolve(audio, ir)[:len(audio)]
        audio = 0.6 * audio + 0.4 * wet * np.abs(audio).max() / np.abs(wet).max()
    return audio.astype(np.float32)


PLUCK = Voice((Layer("triangle", 1.0, 1.0),), attack=0.003, decay=0.3, sustain=0.1, release=0.1, gain=0.3, spread=0)
SWELL = Voice((Layer("saw", 1.0, 0.7), Layer("sine", 1.0, 0.3)), attack=0.8, decay=2.0, sustain=0.9, release=1.5,
              gain=0.2, spread=0)


@pytest.mark.parametrize("reverb", [0.0, 3.0])
def test_the_profile_is_chosen_from_how_sharp_the_attacks_are(reverb):
    rng = np.random.default_rng(5)
    notes = [Note(0.3 + 0.7 * i, 0.3 + 0.7 * i + 1.5, int(rng.integers(48, 72)), 90) for i in range(14)]
    assert choose_profile(play(PLUCK, notes, reverb), RATE) == "pluck"
    assert choose_profile(play(SWELL, notes, reverb), RATE) == "pad"


def test_auto_resolves_to_a_profile_with_the_users_settings_on_top():
    rng = np.random.default_rng(2)
    notes = [Note(0.3 + 0.5 * i, 0.8 + 0.5 * i, int(rng.integers(50, 70)), 90) for i in range(16)]
    auto = transcriber("ambient", "auto", min_note=0.3)
    assert isinstance(auto, AutoCleanup) and auto.settings() == {"profile": "auto", "min_note": 0.3}
    chosen = auto.resolve(play(PLUCK, notes), RATE)
    assert chosen.profile == "pluck" and chosen.min_note == 0.3
    assert chosen.frame_low == PROFILES["pluck"].frame_low
    assert transcriber("ambient", "pad").resolve(play(PLUCK, notes), RATE) == PROFILES["pad"]


def test_transcriber_refuses_what_it_cannot_use():
    with pytest.raises(ParameterError, match="^profile must be auto, pluck or pad, not 'harp'"):
        transcriber("ambient", "harp")
    with pytest.raises(ParameterError, match="^frame_hi not a clean-up setting"):
        transcriber("ambient", frame_hi=0.3)
    with pytest.raises(ParameterError, match="^min_note must be a number, not 'long'"):
        transcriber("ambient", min_note="long")
    with pytest.raises(ParameterError, match="basic-pitch runs at its own defaults"):
        transcriber("basic-pitch", "pad")


def test_the_grid_puts_the_first_beat_on_a_bar_line_and_leaves_the_notes_where_they_were(tmp_path):
    grid = BeatGrid(72.0, 0.37)
    assert grid.tempo_map() == [(0, pytest.approx(60 / 0.37)), (1, 72.0)]
    assert grid.beats_at(0.37) == pytest.approx(1.0) and grid.beats_at(0.37 + 10 * 60 / 72) == pytest.approx(11.0)
    notes = [Note(0.1, 1.3, 60, 80), Note(0.37, 2.0, 64, 80), Note(10.123, 14.5, 67, 70)]
    write_midi(tmp_path / "g.mid", notes, grid=grid)
    back = read_midi(tmp_path / "g.mid")
    assert all(abs(a.start - b.start) < 0.002 and abs(a.end - b.end) < 0.002 for a, b in zip(back, notes))
    score = symusic.Score(str(tmp_path / "g.mid"))
    assert score.tracks[0].notes[1].start == 480  # the first beat is beat 1 of the DAW's grid
    assert [round(t.qpm, 2) for t in score.tempos] == [round(60 / 0.37, 2), 72.0]


def test_the_tempo_of_a_pulse_is_found_and_a_bad_tempo_is_one_clear_error():
    beat = 60 / 96
    clicks = [Note(0.5 + i * beat, 0.5 + i * beat + 0.1, 60 + (i % 4 == 0) * 12, 110) for i in range(40)]
    grid = beat_grid(play(PLUCK, clicks), RATE, clicks)
    assert grid.bpm == pytest.approx(96, rel=0.04)
    assert abs(((grid.first_beat - 0.5) / beat + 0.5) % 1 - 0.5) < 0.15  # on one of the clicks
    assert beat_grid(np.zeros(RATE), RATE, clicks, "80").first_beat == 0.5
    assert parse_tempo("auto") is None and parse_tempo("120") == 120.0
    with pytest.raises(ParameterError, match="^tempo must be auto or beats per minute, not 'fast'"):
        parse_tempo("fast")
    with pytest.raises(ParameterError, match="^tempo must be 30-240 beats per minute, got 500"):
        parse_tempo("500")


SOFT = Preset("test-swell", "", SWELL, lambda: Pedalboard([]), tail=2.0)


def test_cli_takes_a_profile_settings_and_a_tempo_and_records_them(tmp_path):
    notes = [Note(0.5 + 1.5 * i, 1.9 + 1.5 * i, p, 90) for i, p in enumerate([57, 60, 64, 62, 57])]
    render(notes, tmp_path / "pad.wav", SOFT)
    out = tmp_path / "pad.mid"
    run = lambda *extra: subprocess.run([sys.executable, "-m", "ambient", "transcribe", tmp_path / "pad.wav",
                                         "-o", out, *extra], capture_output=True, text=True, timeout=300)
    result = run("--set", "min_note=0.3", "--tempo", "80")
    assert result.returncode == 0, result.stderr
    meta = json.loads(symusic.Score(str(out)).markers[0].text)
    assert meta["settings"]["profile"] == "pad" and meta["settings"]["min_note"] == 0.3  # auto heard a swell
    assert meta["tempo"]["bpm"] == 80.0
    assert [round(t.qpm) for t in symusic.Score(str(out)).tempos][-1] == 80
    assert [n.pitch for n in read_midi(out)] == [57, 60, 64, 62, 57]
    for extra, message in [(["--set", "loud=1"], "loud not a clean-up setting"),
                           (["--set", "min_note"], "set expected KEY=NUMBER"),
                           (["--tempo", "fast"], "tempo must be auto or beats per minute"),
                           (["--profile", "harp"], "profile must be auto, pluck or pad")]:
        result = run(*extra)
        assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_the_pipeline_stage_takes_a_profile_settings_and_a_tempo(tmp_path):
    from ambient.pipeline.stages import transcribe_stage

    render([Note(0.3, 1.4, 60, 90), Note(1.5, 2.6, 67, 90)], tmp_path / "take.wav", SOFT)
    (tmp_path / "out").mkdir()
    transcribe_stage([tmp_path / "take.wav"], tmp_path / "out", {"profile": "pluck", "min_note": 0.25, "tempo": "90"}, {})
    score = symusic.Score(str(tmp_path / "out" / "take.mid"))
    meta = json.loads(score.markers[0].text)
    assert meta["settings"]["profile"] == "pluck" and meta["settings"]["min_note"] == 0.25
    assert round(score.tempos[-1].qpm) == 90
    with pytest.raises(ParameterError, match="^profile must be auto, pluck or pad"):
        transcribe_stage([tmp_path / "take.wav"], tmp_path / "out", {"profile": "harp"}, {})


def test_a_start_moves_onto_the_onset_peak_nearby_but_not_past_onset_search():
    note = np.zeros((len(TIMES), 88), np.float32)
    note[100:300, 20] = 0.8
    onset = np.zeros_like(note)
    onset[95, 20] = 0.9  # 58 ms before the activation crossed
    s = AmbientCleanup(onset_search=0.08, onset_threshold=0.5)
    [n] = activations_to_notes(note, onset, TIMES, s)
    assert n.start == pytest.approx(TIMES[95])
    [n] = activations_to_notes(note, onset, TIMES, AmbientCleanup(onset_search=0.04, onset_threshold=0.5,
                                                                  attack_search=0.0))
    assert n.start == pytest.approx(TIMES[100])  # the peak is out of reach: the crossing stands


def test_a_slow_restrike_is_found_only_with_a_window_as_slow_as_its_rise():
    act = np.full(len(TIMES), 0.0, np.float32)
    act[10:400] = 0.55
    rise = int(0.3 * FPS)
    act[200:200 + rise] = np.linspace(0.5, 0.9, rise)  # a swell struck again, rising over 0.3 s
    act[200 + rise:400] = 0.9
    ons = np.zeros_like(act)
    ons[200] = 0.7
    quick = AmbientCleanup(restrike_onset=0.5, restrike_rise=0.25, restrike_window=0.05)
    slow = AmbientCleanup(restrike_onset=0.5, restrike_rise=0.25, restrike_window=0.3)
    from ambient.transcribe.cleanup import split_restrikes

    assert split_restrikes(act, ons, 10, 400, quick, FPS) == []
    assert split_restrikes(act, ons, 10, 400, slow, FPS) == [200]


def test_a_reverberant_pad_is_heard_as_a_pad_and_its_notes_found_near_their_starts_and_ends(tmp_path):
    from pedalboard import Reverb

    from ambient.audio import decode
    from ambient.transcribe import BasicPitchModel, transcribe_audio

    hall = Preset("test-hall-pad", "", SWELL, lambda: Pedalboard([Reverb(room_size=0.9, wet_level=0.4,
                                                                         dry_level=0.6)]), tail=4.0)
    notes = [Note(0.5 + 2.5 * i, 2.5 + 2.5 * i, p, 90) for i, p in enumerate([50, 57, 62, 55, 60])]
    render(notes, tmp_path / "hall.wav", hall)
    audio = decode(tmp_path / "hall.wav")
    assert choose_profile(audio, RATE) == "pad"
    model = BasicPitchModel()
    found = transcribe_audio(audio, AutoCleanup(), model)
    assert [n.pitch for n in found] == [50, 57, 62, 55, 60]  # no echo of a high partial (98 over 62)
    assert all(abs(f.start - n.start) < 0.15 for f, n in zip(found, notes))
    # the voice's 1.5 s release and the room ring on after each note-off: ends are never
    # early, and closer to the note-offs than basic-pitch's own note creation puts them
    theirs = {n.pitch: n for n in transcribe_audio(audio, BasicPitchDefaults(), model)}
    assert all(n.end <= f.end < theirs[n.pitch].end for f, n in zip(found, notes))


def test_pipeline_set_refuses_a_transcription_setting_it_cannot_use(tmp_path):
    from ambient.pipeline import Workspace

    ws = Workspace.init(tmp_path / "ws")
    ws.set_param("transcribe", "profile", "pad")
    ws.set_param("transcribe", "tempo", "auto")
    for key, value, message in [("profile", "harp", "^profile must be"), ("frame_hi", 0.3, "^frame_hi not a"),
                                ("tempo", 900, "^tempo must be 30-240")]:
        with pytest.raises(ParameterError, match=message):
            ws.set_param("transcribe", key, value)
    assert ws.params["transcribe"] == {"profile": "pad", "tempo": "auto"}


@settings(max_examples=15, deadline=None)
@given(seconds=st.floats(0.05, 3.0), chunk=st.integers(1, 300))
def test_flux_and_level_are_the_same_whatever_the_chunk(seconds, chunk):
    from ambient.transcribe.sound import flux_and_level

    audio = np.random.default_rng(3).standard_normal(int(seconds * RATE)).astype(np.float32)
    whole, level = flux_and_level(audio, chunk=10**6)
    parts, level_parts = flux_and_level(audio, chunk=chunk)
    assert len(whole) == 1 + len(audio) // 256 - 1 and np.array_equal(whole, parts)
    assert np.array_equal(level, level_parts)
