import re

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st

from ambient.audio import TRANSCRIBER_RATE, decode
from ambient.errors import AmbientError
from ambient.ingest import content_hash, ingest, standard_name


def tone(path, seconds=1.0, rate=22050, channels=1, freq=440.0, fmt=None):
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * freq * t)
    sf.write(str(path), np.tile(wave[:, None], (1, channels)), rate, format=fmt)
    return path


@given(st.text(st.characters(blacklist_characters="/\x00"), max_size=60))  # any legal file name
def test_standard_names_are_plain_lowercase_ascii(name):
    result = standard_name(name + ".MP3")
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*\.mp3", result)


def test_accents_spaces_and_punctuation_fold():
    assert standard_name("Éno — Music for Airports 1/1 (Remastered).FLAC") == "eno-music-for-airports-1-1-remastered.flac"
    assert standard_name("  ???.wav") == "untitled.wav"


def test_collisions_get_distinct_names_and_duplicates_are_skipped(tmp_path):
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "b").mkdir()
    tone(src / "a" / "Song One.wav", freq=440)
    tone(src / "b" / "song one.wav", freq=550)         # same standard name, other content
    tone(src / "b" / "copy of song.wav", freq=440)     # same content as the first
    (src / "notes.txt").write_text("liner notes")
    repo = tmp_path / "repo"
    report = ingest([src], repo)
    assert sorted(p.name for p in repo.iterdir()) == ["song-one-2.wav", "song-one.wav"]
    assert [s.name for s, _ in report.duplicates] == ["copy of song.wav"]
    assert [p.name for p in report.ignored] == ["notes.txt"]
    again = ingest([src], repo)  # a second ingest of the same files adds nothing
    assert not again.added and len(again.duplicates) == 3
    assert content_hash(repo / "song-one.wav") == content_hash(src / "a" / "Song One.wav")


def test_bad_files_fail_alone(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    tone(src / "good.wav")
    (src / "empty.mp3").write_bytes(b"")
    (src / "text.mp3").write_text("this is not an mp3\n" * 10)
    tone(src / "vanishing.wav")
    tone(src / "zz-last.flac", fmt="FLAC")

    def vanish(path):
        if path.name == "good.wav":
            (src / "vanishing.wav").unlink()

    report = ingest([src, tmp_path / "missing-folder"], tmp_path / "repo", on_file=vanish)
    assert sorted(s.name for s, _ in report.added) == ["good.wav", "zz-last.flac"]
    reasons = dict((s.name, r) for s, r in report.failed)
    assert "empty file (0 bytes)" in reasons["empty.mp3"]
    assert "not readable audio" in reasons["text.mp3"]
    assert "disappeared" in reasons["vanishing.wav"] or "No such file" in reasons["vanishing.wav"]
    assert "no such file or folder" in reasons["missing-folder"]
    assert not any(p.name.startswith(".") for p in (tmp_path / "repo").iterdir())


@pytest.mark.parametrize("rate,channels", [(8000, 1), (96000, 2), (44100, 6), (22050, 1)])
def test_decode_gives_mono_at_the_transcriber_rate(tmp_path, rate, channels):
    path = tone(tmp_path / "x.flac", seconds=2.0, rate=rate, channels=channels, fmt="FLAC")
    audio = decode(path)
    assert audio.ndim == 1 and audio.dtype == np.float32
    assert abs(len(audio) - 2 * TRANSCRIBER_RATE) <= 2
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) * TRANSCRIBER_RATE / len(audio) - 440) < 2


def test_decode_keeps_what_a_truncated_mp3_holds(tmp_path):
    whole = tone(tmp_path / "whole.mp3", seconds=4.0, fmt="MP3")
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    audio = decode(cut)
    assert 1.5 * TRANSCRIBER_RATE < len(audio) < 2.5 * TRANSCRIBER_RATE  # half the file, half the audio
    assert np.isfinite(audio).all() and np.abs(audio[-TRANSCRIBER_RATE // 4:]).max() > 0.1  # tone to the end


@pytest.mark.parametrize("content,message", [(b"", "empty file (0 bytes)"), (b"hello, not audio" * 20, "not readable audio")])
def test_decode_names_unreadable_files(tmp_path, content, message):
    path = tmp_path / "bad.mp3"
    path.write_bytes(content)
    with pytest.raises(AmbientError, match=f"bad.mp3: {re.escape(message)}"):
        decode(path)
    with pytest.raises(AmbientError, match="no such file"):
        decode(tmp_path / "gone.wav")
