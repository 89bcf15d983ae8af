"""Rendering as a listener meets it: length, loudness, peaks, formats, determinism."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ambient.errors import AmbientError
from ambient.loudness import loudness
from ambient.midi import write_midi
from ambient.notes import Note
from ambient.render import PEAK_DBFS, PRESETS, RATE, TARGET_LUFS, preset, render, render_length

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")


def sixty_seconds() -> list[Note]:
    """Slow chords and a high line over 60 s, quiet to loud."""
    rng = np.random.default_rng(0)
    notes = []
    for bar in range(10):
        root = int(rng.choice([45, 48, 50, 53]))
        notes += [Note(bar * 6.0, bar * 6.0 + 6.0, root + i, 40 + 8 * bar) for i in (0, 7, 12, 16)]
        notes.append(Note(bar * 6.0 + 2.0, bar * 6.0 + 5.0, root + 24 + int(rng.integers(0, 8)), 70))
    return notes


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_renders_a_minute_loud_enough_and_unclipped(name, tmp_path):
    notes = sixty_seconds()
    report = render(notes, tmp_path / "out.wav", name)
    audio, rate = sf.read(str(tmp_path / "out.wav"), always_2d=True)
    assert rate == RATE and audio.shape[1] == 2
    assert len(audio) == render_length(notes, preset(name)) == math.ceil((60.0 + preset(name).tail) * RATE)
    assert abs(loudness(audio.T, rate) - TARGET_LUFS) < 0.5
    assert 20 * math.log10(np.abs(audio).max()) <= PEAK_DBFS + 0.01
    assert not np.allclose(audio[:, 0], audio[:, 1])  # really stereo
    last_note = int(60.0 * RATE)
    assert np.abs(audio[last_note - RATE:last_note]).mean() > 1e-3  # sounding up to the end
    assert report.seconds == pytest.approx(len(audio) / RATE)


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3"])
def test_every_format_reads_back(suffix, tmp_path):
    path = tmp_path / f"out{suffix}"
    render([Note(0, 2, 60, 80), Note(1, 3, 67, 80)], path, "peaceful-meadow")
    audio, rate = sf.read(str(path), always_2d=True)
    assert rate == RATE and audio.shape[1] == 2
    assert abs(len(audio) / RATE - (3 + preset("peaceful-meadow").tail)) < 0.1
    assert np.abs(audio).max() > 0.05
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no scratch files left behind


def test_same_seed_same_bytes_other_seed_other_sound(tmp_path):
    notes = sixty_seconds()[:12]
    a, b, c = (tmp_path / f"{x}.wav" for x in "abc")
    render(notes, a, "deterioration", seed=3)
    render(notes, b, "deterioration", seed=3)
    render(notes, c, "deterioration", seed=4)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_tempo_and_stretch_lengthen_the_piece(tmp_path):
    notes = [Note(0, 4, 57, 80), Note(2, 6, 64, 80)]
    p = preset("voyager")
    slow = render(notes, tmp_path / "slow.wav", "voyager", tempo=0.5)
    assert slow.seconds == pytest.approx(12.0 + p.tail, abs=1 / RATE)
    smeared = render(notes, tmp_path / "smeared.wav", "voyager", stretch_factor=4)
    assert smeared.seconds == pytest.approx(4 * (6.0 + p.tail), abs=0.01)
    assert smeared.peak_dbfs <= PEAK_DBFS


def test_loudness_meter_reads_a_full_scale_sine_as_minus_3_lufs():
    t = np.arange(5 * 48000) / 48000
    left = np.sin(2 * np.pi * 997 * t)
    assert loudness(np.stack([left, np.zeros_like(left)]), 48000) == pytest.approx(-3.01, abs=0.05)
    assert loudness(np.zeros((2, 48000)), 48000) == float("-inf")


def test_soundfont_renders_through_fluidsynth(tmp_path):
    assert SOUNDFONT.exists(), "make test installs fluid-soundfont-gm (scripts/install-system-packages.sh)"
    report = render([Note(0, 2, 60, 90), Note(0.5, 2.5, 64, 90)], tmp_path / "sf.flac", "voyager",
                    soundfont=SOUNDFONT, program=89)
    audio, _ = sf.read(str(tmp_path / "sf.flac"))
    assert np.abs(audio).max() > 0.1 and report.peak_dbfs <= PEAK_DBFS


def test_bad_requests_are_refused(tmp_path):
    with pytest.raises(AmbientError, match="no such instrument"):
        render([Note(0, 1, 60, 80)], tmp_path / "x.wav", "kazoo")
    with pytest.raises(AmbientError, match="unknown audio format .aiff"):
        render([Note(0, 1, 60, 80)], tmp_path / "x.aiff")
    with pytest.raises(AmbientError, match="no such SoundFont"):
        render([Note(0, 1, 60, 80)], tmp_path / "x.wav", soundfont=tmp_path / "missing.sf2")
    with pytest.raises(AmbientError, match="no notes"):
        render([], tmp_path / "x.wav")
    assert list(tmp_path.iterdir()) == []


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "ambient", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_cli_renders_and_plots(tmp_path):
    midi = write_midi(tmp_path / "in.mid", sixty_seconds()[:10])
    result = run_cli("render", midi, "-o", tmp_path / "out.ogg", "-i", "underwater-temple")
    assert result.returncode == 0, result.stderr
    assert "LUFS" in result.stdout
    for source, picture in [(midi, "roll.png"), (tmp_path / "out.ogg", "spectrum.png")]:
        result = run_cli("plot", source, "-o", tmp_path / picture)
        assert result.returncode == 0, result.stderr
        assert (tmp_path / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args,message", [
    (["-i", "kazoo"], "kazoo: no such instrument"),
    (["--soundfont", "/nonexistent/piano.sf2"], "piano.sf2: no such SoundFont"),
])
def test_cli_bad_instrument_or_soundfont(tmp_path, args, message):
    midi = write_midi(tmp_path / "in.mid", [Note(0, 1, 60, 80)])
    result = run_cli("render", midi, "-o", tmp_path / "out.wav", *args)
    assert result.returncode == 1 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_bad_midi(tmp_path):
    fake = tmp_path / "song.mid"
    fake.write_bytes(b"ID3\x03\x00 definitely an mp3")
    result = run_cli("render", fake, "-o", tmp_path / "out.wav")
    assert result.returncode == 1 and "song.mid: not a MIDI file" in result.stderr
    assert not (tmp_path / "out.wav").exists()


def test_cli_warns_when_a_render_is_silent(tmp_path):
    # 5 ms notes under stratosphere's 2 s raised-cosine attack peak near -100 dBFS: nothing to hear
    midi = write_midi(tmp_path / "blips.mid", [Note(0.25 * i, 0.25 * i + 0.005, 60 + i, 90) for i in range(8)])
    result = run_cli("render", midi, "-o", tmp_path / "out.wav", "-i", "stratosphere")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().endswith("out.wav: the render is silent: its 8 notes are too short or too quiet "
                                          "to sound")


def test_a_piano_roll_names_pitches_and_colours_the_primer_and_continuation_as_the_studio_does(tmp_path):
    import matplotlib.image

    from ambient.plot import pitch_name, piano_roll

    assert [pitch_name(p) for p in (60, 61, 21, 108)] == ["C4", "C#4", "A0", "C8"]
    notes = [Note(i, i + 0.9, 60 + i % 5, 100) for i in range(20)]

    def shares(primer_end):
        image = matplotlib.image.imread(piano_roll(notes, tmp_path / f"roll-{primer_end}.png", primer_end=primer_end))
        r, g, b = image[..., 0], image[..., 1], image[..., 2]
        amber = (r > 0.85) & (g > 0.7) & (b < 0.6) & (r - b > 0.3)        # the continuation's colour
        blue = (b > 0.8) & (r < 0.8) & (b - r > 0.15)                     # the primer's
        return int(amber.sum()), int(blue.sum())

    amber, blue = shares(10.0)
    assert amber > 1000 and blue > 1000 and 0.5 < amber / blue < 2            # ten notes each side
    assert shares(None)[0] == 0                                               # no primer end: all one colour
