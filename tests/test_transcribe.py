import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import symusic
from pedalboard import Pedalboard

from ambient.audio import TRANSCRIBER_RATE
from ambient.errors import AmbientError
from ambient.notes import Note
from ambient.render import render
from ambient.render.presets import Preset
from ambient.render.synth import Layer, Voice
from ambient.transcribe import AmbientCleanup, BasicPitchModel, transcribe_audio, transcribe_file
from ambient.transcribe.cleanup import activations_to_notes, held_regions, split_restrikes

FPS = 86.0
TIMES = np.arange(600) / FPS
PLAIN = Preset("test-tone", "", Voice((Layer("triangle", 1.0, 1.0),), attack=0.01, decay=1.0, sustain=0.7,
                                      release=0.1, gain=0.3, spread=0.0), lambda: Pedalboard([]), tail=0.5)


@pytest.fixture(scope="module")
def model():
    return BasicPitchModel()


def activation(shape_by_bin: dict[int, list[tuple[float, float, float]]]) -> np.ndarray:
    """(frames, 88) with a plateau of `level` from start to end (seconds) in each bin."""
    out = np.zeros((len(TIMES), 88), np.float32)
    for b, plateaus in shape_by_bin.items():
        for start, end, level in plateaus:
            out[int(start * FPS):int(end * FPS), b] = level
    return out


def test_hysteresis_bridges_short_dips_and_ignores_weak_runs():
    act = activation({0: [(0.0, 1.0, 0.8), (1.0, 1.1, 0.1), (1.1, 2.0, 0.8), (3.0, 4.0, 0.3)]})[:, 0]
    assert held_regions(act, AmbientCleanup(), FPS) == [(0, 172)]


def test_reverb_tail_is_trimmed_from_the_note():
    note = activation({39: [(1.0, 3.0, 0.9), (3.0, 5.0, 0.25)]})  # a quiet tail of 2 s after the note
    onset = activation({39: [(1.0, 1.03, 0.9)]})
    [n] = activations_to_notes(note, onset, TIMES, AmbientCleanup())
    assert n.pitch == 60 and abs(n.start - 1.0) < 0.02 and abs(n.end - 3.0) < 0.02


def test_a_strong_onset_with_a_rise_splits_a_held_pitch_but_a_flicker_does_not():
    act = activation({39: [(0.0, 1.0, 0.5), (1.0, 2.0, 0.9)]})[:, 39]
    ons = activation({39: [(1.0, 1.03, 0.9), (0.5, 0.53, 0.9)]})[:, 39]  # 0.5 s: no rise, a flicker
    assert split_restrikes(act, ons, 0, int(2 * FPS), AmbientCleanup(), FPS) == [int(1.0 * FPS) + 1]


def test_harmonic_echo_of_a_louder_note_is_dropped_but_a_real_octave_is_kept():
    note = activation({27: [(0.0, 2.0, 0.9)], 39: [(0.0, 2.0, 0.4)], 46: [(0.0, 2.0, 0.8)]})
    pitches = [n.pitch for n in activations_to_notes(note, np.zeros_like(note), TIMES, AmbientCleanup())]
    assert pitches == [48, 67]  # 60 was an echo of 48 (quieter octave); 67 is louder than 0.7 × 48's peak


def test_slow_swell_starts_at_its_foot():
    note = np.zeros((len(TIMES), 88), np.float32)
    rise = np.linspace(0.12, 0.8, int(0.4 * FPS))
    note[86:86 + len(rise), 40] = rise
    note[86 + len(rise):300, 40] = 0.8
    [n] = activations_to_notes(note, np.zeros_like(note), TIMES, AmbientCleanup())
    assert abs(n.start - 1.0) < 0.03


def test_rendered_melody_is_transcribed_with_pitches_and_times(model, tmp_path):
    melody = [Note(0.5 + i * 0.6, 0.5 + i * 0.6 + 0.5, p, 90) for i, p in enumerate([60, 64, 67, 72, 67, 64])]
    render(melody, tmp_path / "melody.wav", PLAIN)
    audio, rate = sf.read(str(tmp_path / "melody.wav"))
    from ambient.audio import decode

    notes = transcribe_audio(decode(tmp_path / "melody.wav"), AmbientCleanup(), model)
    assert [n.pitch for n in notes] == [60, 64, 67, 72, 67, 64]
    assert all(abs(n.start - m.start) < 0.05 for n, m in zip(notes, melody))


def test_silence_gives_no_notes_and_a_clear_error(model, tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(str(path), np.zeros(TRANSCRIBER_RATE * 3), TRANSCRIBER_RATE)
    assert transcribe_audio(np.zeros(TRANSCRIBER_RATE), AmbientCleanup(), model) == []
    from ambient.errors import AmbientError

    with pytest.raises(AmbientError, match="silence.wav: no notes found"):
        transcribe_file(path, tmp_path / "out.mid", AmbientCleanup(), model)
    assert not (tmp_path / "out.mid").exists()


def test_midi_records_the_transcriber_and_its_settings(model, tmp_path):
    render([Note(0.2, 1.5, 57, 90), Note(0.2, 1.5, 64, 90)], tmp_path / "chord.flac", PLAIN)
    transcribe_file(tmp_path / "chord.flac", tmp_path / "chord.mid", AmbientCleanup(min_note=0.2), model)
    markers = symusic.Score(str(tmp_path / "chord.mid")).markers
    meta = json.loads(markers[0].text)
    assert meta["transcriber"] == "basic-pitch+ambient" and meta["settings"]["min_note"] == 0.2
    assert meta["source"] == "chord.flac"


def test_cli_transcribes_a_batch_where_bad_files_fail_alone(tmp_path):
    render([Note(0.2, 1.2, 60, 90)], tmp_path / "good.wav", PLAIN)
    (tmp_path / "empty.mp3").write_bytes(b"")
    (tmp_path / "text.mp3").write_text("not audio at all\n" * 20)
    sf.write(str(tmp_path / "quiet.wav"), np.zeros(22050 * 2), 22050)
    sf.write(str(tmp_path / "click.wav"), np.full(200, 0.5), 22050)  # shorter than one model frame
    sf.write(str(tmp_path / "nan.wav"), np.full(22050, np.nan, np.float32), 22050, subtype="FLOAT")
    out = tmp_path / "midi"
    result = subprocess.run([sys.executable, "-m", "ambient", "transcribe", tmp_path / "empty.mp3",
                             tmp_path / "good.wav", tmp_path / "text.mp3", tmp_path / "quiet.wav",
                             tmp_path / "gone.wav", tmp_path / "click.wav", tmp_path / "nan.wav", "-o", out],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 6 and "Traceback" not in result.stderr
    assert "empty.mp3: empty file" in errors[0]
    # libsndfile's own words for bytes it cannot parse as MP3 are "does not exist ... (possibly a pipe?)"
    assert errors[1].endswith("text.mp3: not readable audio (not a format we recognise: no WAV, FLAC, OGG or MP3 "
                              "data in it)")
    assert "quiet.wav: no notes found" in errors[2] and "gone.wav: no such file" in errors[3]
    assert errors[4].endswith("click.wav: too short to transcribe (0.009 s of audio; a note needs 0.1 s)")
    assert errors[5].endswith("nan.wav: damaged audio (its samples are not numbers: NaN or infinite)")
    assert sorted(p.name for p in out.iterdir()) == ["good.mid"]


def test_the_layer_names_outputs_and_lets_a_bad_file_fail_alone(model, tmp_path):
    from ambient.errors import ParameterError
    from ambient.transcribe import output_path, transcribe_files, transcriber

    assert output_path(tmp_path / "a.flac", None) == tmp_path / "a.mid"
    assert output_path(tmp_path / "a.flac", tmp_path / "x.mid") == tmp_path / "x.mid"
    assert output_path(tmp_path / "a.flac", tmp_path / "out") == tmp_path / "out" / "a.mid"
    render([Note(0.2, 1.2, 64, 90)], tmp_path / "good.wav", PLAIN)
    (tmp_path / "bad.wav").write_text("no audio here\n" * 30)
    with pytest.raises(AmbientError, match="give a folder"):
        transcribe_files([tmp_path / "good.wav", tmp_path / "bad.wav"], tmp_path / "one.mid", model=model)
    seen = []
    report = transcribe_files([tmp_path / "bad.wav", tmp_path / "good.wav"], tmp_path / "out",
                              transcriber("basic-pitch"), model, on_file=seen.append)
    assert [(s.name, t.name) for s, t, _ in report.written] == [("good.wav", "good.mid")]
    assert [(s.name, "bad.wav: not readable audio" in e) for s, e in report.failed] == [("bad.wav", True)]
    assert seen == [tmp_path / "bad.wav", tmp_path / "good.wav"]
    assert json.loads(symusic.Score(str(tmp_path / "out" / "good.mid")).markers[0].text)["transcriber"] == "basic-pitch"
    with pytest.raises(ParameterError, match="^method must be one of ambient, basic-pitch"):
        transcriber("magic")


@pytest.mark.parametrize("seconds", [0.7, 2.0, 5.3])
def test_posteriors_match_basic_pitchs_own_inference(model, tmp_path, seconds):
    """Our windows are written straight into whole-file arrays (flat memory on long
    records); the activations must be what basic-pitch's own path gives."""
    t = np.arange(int(seconds * TRANSCRIBER_RATE)) / TRANSCRIBER_RATE
    audio = (0.3 * np.sin(2 * np.pi * 330 * t) * (t % 1.0 < 0.6)).astype(np.float32)
    sf.write(str(tmp_path / "tone.wav"), audio, TRANSCRIBER_RATE, subtype="FLOAT")
    theirs = model.inference.run_inference(tmp_path / "tone.wav", model.model)
    ours = model.posteriors(audio)
    for key in ("note", "onset"):
        # (they run one window per call, we run several: the last bits may differ)
        assert ours[key].shape == theirs[key].shape and np.allclose(ours[key], theirs[key], atol=1e-5)
    assert ours["contour"].shape == (len(theirs["contour"]), 0)


def test_audio_shorter_than_one_model_frame_has_no_notes(model):
    from ambient.transcribe import transcribe_audio, transcriber

    for method in (transcriber("ambient"), transcriber("basic-pitch")):
        assert transcribe_audio(np.full(200, 0.5, np.float32), method, model) == []
