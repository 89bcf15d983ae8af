"""Endless ambient: segments that join, audio without seams, held loudness, clean stops."""

import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
import torch

from ambient.loudness import loudness
from ambient.model import MusicTransformer
from ambient.notes import Note
from ambient.render.engine import Chain
from ambient.render.presets import preset
from ambient.render.synth import SynthVoices
from ambient.render.sinks import FileSink
from ambient.render.engine import Level
from ambient.stream import HELD, Composer, Performer, Segment, stream
from tests.conftest import tiny_config

RATE = 44100


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return MusicTransformer(tiny_config()).eval()


def seed_piece() -> list[Note]:
    return [Note(i * 0.5, i * 0.5 + 1.5, [60, 64, 67, 71, 72][i % 5], 70) for i in range(40)]


def test_a_streamed_render_equals_one_uninterrupted_render_of_the_same_notes():
    # a note held across the join: open (end unknown) in the first segment, ended in the second
    notes = [Note(0.2, 3.0, 60, 80), Note(1.0, 7.5, 67, 70), Note(4.1, 6.0, 72, 90), Note(5.0, 9.0, 48, 60)]
    first = Segment(0.0, 4.0, [notes[0]], [Note(1.0, HELD, 67, 70)])
    second = Segment(4.0, 10.0, notes[1:], [])
    performer = Performer("stratosphere")
    performer.level.apply = lambda block: block                 # compare before the loudness gain
    performer.add(first)
    head = performer.render(4.0)
    performer.add(second)
    tail = performer.render(10.0)
    streamed = np.concatenate([head, tail], axis=1)
    voices, chain = SynthVoices(notes, preset("stratosphere").voice, RATE, 0), Chain(preset("stratosphere"), RATE, 0)
    whole = chain.process(voices.block(0, streamed.shape[1]), 0)
    join = 4 * RATE
    assert np.abs(streamed - whole)[:, join - 4410:join + 4410].max() < 10 ** (-60 / 20)   # below -60 dBFS
    assert np.abs(streamed - whole).max() < 10 ** (-60 / 20)
    assert np.abs(whole).max() > 0.01                                                      # there is music


def test_segments_follow_each_other_and_the_window_stays_bounded(model):
    composer = Composer(model, seed_piece(), segment_seconds=5.0)
    segments = [composer.next_segment() for _ in range(6)]
    assert segments[0].start == 0.0
    for a, b in zip(segments, segments[1:]):
        assert b.start == pytest.approx(a.end) and b.end >= b.start + 5.0
    assert len(composer.window) <= model.config.context
    for s in segments:
        assert all(s.start - 1e-9 <= n.start < s.end + 1e-9 for n in s.notes if n.start >= s.start)
        assert all(n.end == HELD for n in s.open)


def test_the_guard_rails_start_again_from_the_seed_when_the_music_thins_out_or_loops(model):
    composer = Composer(model, seed_piece(), segment_seconds=5.0)
    empty = Segment(0.0, 20.0, [], [])
    assert composer._guard(empty).startswith("thinned out")
    assert composer._pending is not None                                  # the seed comes next
    loop = [Note(i * 0.25, i * 0.25 + 0.2, 60 + (i % 2) * 7, 70) for i in range(40)]
    assert Composer(model, seed_piece())._guard(Segment(0.0, 10.0, loop, [])) == "fell into a loop"
    crowd = [Note(i * 0.01, i * 0.01 + 0.5, 40 + i % 40, 70) for i in range(1000)]
    assert Composer(model, seed_piece())._guard(Segment(0.0, 10.0, crowd, [])).startswith("piled up")
    steady = seed_piece()[:20]
    assert Composer(model, seed_piece())._guard(Segment(0.0, 10.0, steady, [])) is None


def test_the_level_settles_on_the_target_and_never_passes_the_ceiling():
    level = Level(RATE, -16.0, -1.0)
    t = np.arange(RATE * 40) / RATE
    quiet = np.tile((0.02 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), (2, 1))
    out = np.concatenate([level.apply(quiet[:, i:i + 8192]) for i in range(0, quiet.shape[1], 8192)], axis=1)
    assert loudness(out[:, -10 * RATE:], RATE) == pytest.approx(-16.0, abs=1.0)
    assert np.abs(out).max() < 10 ** (-1 / 20)
    burst = np.tile(np.float32(0.9) * np.sign(np.sin(2 * np.pi * 110 * t[:RATE])), (2, 1))
    assert np.abs(level.apply(burst)).max() <= 10 ** (-1 / 20) + 1e-6                     # at most the ceiling


def test_memory_of_the_performer_stays_flat(model):
    composer, performer = Composer(model, seed_piece(), segment_seconds=10.0), Performer("underwater-temple")
    sizes = []
    for _ in range(12):
        segment = composer.next_segment()
        performer.add(segment)
        performer.render(segment.end)
        sizes.append(len(performer.notes))
    assert max(sizes[6:]) <= 2 * max(sizes[:6]) + 10


def test_a_stream_of_minutes_writes_that_much_playable_audio(model, tmp_path):
    notes = []
    report = stream(Composer(model, seed_piece()), Performer("peaceful-meadow"), FileSink(tmp_path / "r.wav", RATE),
                    minutes=0.75, notes_out=notes)
    audio, rate = sf.read(str(tmp_path / "r.wav"), always_2d=True)
    assert rate == RATE and len(audio) / RATE == pytest.approx(45.5, abs=0.05)          # and a half-second fade
    assert report.seconds == pytest.approx(45.5, abs=0.05) and report.realtime > 1
    assert np.abs(audio).max() < 10 ** (-1 / 20) and np.abs(audio[-20:]).max() < 1e-3  # faded out
    assert len(notes) > 20 and max(n.start for n in notes) > 30


def run_cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "ambient", "stream", *args], capture_output=True, text=True,
                          timeout=240, **kwargs)


def test_the_command_writes_a_file_and_the_notes(tmp_path):
    result = run_cli("-o", str(tmp_path / "radio.ogg"), "--minutes", "0.4", "--save-midi", str(tmp_path / "r.mid"),
                     "-i", "voyager", "--primer", "3")
    assert result.returncode == 0, result.stderr
    assert sf.info(str(tmp_path / "radio.ogg")).duration == pytest.approx(24.5, abs=0.1)
    assert (tmp_path / "r.mid").read_bytes()[:4] == b"MThd"
    assert "s of voyager in" in result.stderr.splitlines()[-1]


def test_bad_output_and_a_closed_pipe_give_one_line(tmp_path):
    missing = run_cli("-o", str(tmp_path / "no" / "such" / "r.ogg"), "--minutes", "0.2")
    assert missing.returncode == 1 and missing.stderr.strip().startswith(f"error: {tmp_path}/no/such/r.ogg: cannot write")
    (tmp_path / "full.ogg").symlink_to("/dev/full")                  # a disk with no room left
    full = run_cli("-o", str(tmp_path / "full.ogg"), "--minutes", "0.3")
    assert full.returncode == 1 and full.stderr.strip() == \
        f"error: {tmp_path}/full.ogg: cannot write any more (System error: is the disk full?)"
    reader = subprocess.Popen([sys.executable, "-m", "ambient", "stream", "-o", "-"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=False)
    header = reader.stdout.read(44)
    assert header[:4] == b"RIFF" and header[8:12] == b"WAVE"
    reader.stdout.read(RATE * 4)                                   # a second of audio, then hang up
    reader.stdout.close()
    err = reader.communicate(timeout=120)[1].decode()
    assert reader.returncode == 1 and err.strip() == "error: standard output: closed by the reader"


def test_ctrl_c_stops_cleanly_with_the_file_finished(tmp_path):
    child = subprocess.Popen([sys.executable, "-m", "ambient", "stream", "-o", str(tmp_path / "r.flac")],
                             stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and (not (tmp_path / "r.flac").exists() or (tmp_path / "r.flac").stat().st_size < 50000):
        time.sleep(0.2)
    child.send_signal(signal.SIGINT)
    err = child.communicate(timeout=60)[1]
    assert child.returncode == 0, err
    info = sf.info(str(tmp_path / "r.flac"))
    assert info.duration > 10 and f"{info.duration:.1f} s of stratosphere" in err.splitlines()[-1]


def test_a_journey_moves_the_key_a_fifth_and_the_music_follows(model):
    from ambient.controls import Controls, estimate_scale

    seed = [Note(i * 0.5, i * 0.5 + 1.0, [60, 62, 64, 65, 67, 69, 71][i % 7], 70) for i in range(60)]
    composer = Composer(model, seed, segment_seconds=10.0, journey_minutes=0.5, controls=Controls(scale="auto"))
    segments = [composer.next_segment() for _ in range(6)]
    turns = [s for s in segments if s.turned]
    assert [s.start >= 30.0 for s in turns] == [True] * len(turns) and len(turns) >= 2
    first = turns[0]
    after = [n for n in first.notes if n.start >= first.start]
    g_major = estimate_scale([Note(0, 1, p + 7, 70) for p in (60, 62, 64, 65, 67, 69, 71)])
    assert first.turned in ("moved up a fifth", "moved down a fourth") and {n.pitch % 12 for n in after} <= g_major
