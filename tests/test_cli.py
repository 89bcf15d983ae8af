"""The `ambient` command as a user meets it: files written, one-line errors, exit codes."""

import subprocess
import sys

import pytest
import soundfile as sf
import symusic

from ambient.midi import read_midi, write_midi
from ambient.notes import Note
from ambient.seeds import resolve_primer


def ambient(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ambient", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def one_line_error(result, *fragments):
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def primer(tmp_path):
    return write_midi(tmp_path / "primer.mid", [Note(i * 0.5, i * 0.5 + 1.0, 60 + i % 5, 70) for i in range(10)])


def test_generate_writes_primer_then_continuation_and_a_seed_repeats(tiny_model_dir, primer, tmp_path):
    a, b = tmp_path / "a.mid", tmp_path / "b.mid"
    for out in (a, b):
        result = ambient("generate", "--model", tiny_model_dir, "--primer", primer, "--length", 300,
                         "--seed", 4, "-o", out)
        assert result.returncode == 0, result.stderr
        assert str(out) in result.stdout
    assert a.read_bytes() == b.read_bytes()
    notes = read_midi(a)
    assert [n.pitch for n in notes[:10]] == [n.pitch for n in read_midi(primer)]
    assert len(notes) > 10
    assert symusic.Score(str(a)).tracks[0].program == 89


def test_variations_write_one_file_each(tiny_model_dir, primer, tmp_path):
    result = ambient("generate", "--model", tiny_model_dir, "--primer", primer, "--seconds", 3,
                     "--variations", 3, "-o", tmp_path / "v.mid")
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in tmp_path.glob("v-*.mid"))
    assert files == ["v-1.mid", "v-2.mid", "v-3.mid"]
    assert len({(tmp_path / f).read_bytes() for f in files}) == 3


def test_missing_primer(tiny_model_dir, tmp_path):
    one_line_error(ambient("generate", "--model", tiny_model_dir, "--primer", tmp_path / "nope.mid"),
                   "nope.mid", "no such file")


def test_text_file_named_mid(tiny_model_dir, tmp_path):
    fake = tmp_path / "notes.mid"
    fake.write_text("these are my notes\n")
    one_line_error(ambient("generate", "--model", tiny_model_dir, "--primer", fake),
                   "notes.mid", "not a MIDI file (no MThd header)")


def test_midi_with_no_notes(tiny_model_dir, tmp_path):
    empty = write_midi(tmp_path / "empty.mid", [])
    one_line_error(ambient("generate", "--model", tiny_model_dir, "--primer", empty), "empty.mid", "no notes")


def test_drums_only_midi(tiny_model_dir, tmp_path):
    score = symusic.Score(480)
    drums = symusic.Track(name="kit", program=0, is_drum=True)
    drums.notes.append(symusic.Note(0, 240, 36, 100))
    score.tracks.append(drums)
    path = tmp_path / "drums.mid"
    score.dump_midi(str(path))
    one_line_error(ambient("generate", "--model", tiny_model_dir, "--primer", path), "drums.mid", "only drum notes")


def test_truncated_midi(tiny_model_dir, primer, tmp_path):
    broken = tmp_path / "cut.mid"
    broken.write_bytes(primer.read_bytes()[:30])
    result = ambient("generate", "--model", tiny_model_dir, "--primer", broken)
    one_line_error(result, "cut.mid")


@pytest.mark.parametrize("option,message", [(["--length", 0], "--length must be at least 1"),
                                            (["--top-p", 2], "--top-p must be in (0, 1]"),
                                            (["--temperature", 0], "--temperature must be above 0")])
def test_bad_settings(tiny_model_dir, primer, option, message):
    one_line_error(ambient("generate", "--model", tiny_model_dir, "--primer", primer, *option), message)


def test_corrupt_weights(tiny_model_dir, primer):
    (tiny_model_dir / "model.safetensors").write_bytes(b"\x00" * 64)
    one_line_error(ambient("generate", "--model", tiny_model_dir, "--primer", primer),
                   "model.safetensors", "damaged weights file")


def test_seeds_lists_the_bundled_seeds():
    result = ambient("seeds")
    assert result.returncode == 0
    rows = result.stdout.strip().splitlines()
    assert len(rows) >= 7
    for row in rows:
        seconds = float(row.split()[1])
        assert 10 <= seconds <= 60


def test_generate_with_a_bundled_seed_by_name(tiny_model_dir, tmp_path):
    result = ambient("generate", "--model", tiny_model_dir, "--primer", "3", "--length", 50, "-o", tmp_path / "s.mid")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "s.mid").exists()


def test_train_with_too_few_files(tmp_path):
    write_midi(tmp_path / "one.mid", [Note(0, 1, 60, 64)])
    one_line_error(ambient("train", tmp_path, "--out", tmp_path / "m"), "need at least 2")


def test_generate_with_the_bundled_model_and_render(tmp_path):
    out = tmp_path / "piece.mid"
    result = ambient("generate", "--primer", "2", "--seconds", 5, "--seed", 3, "-o", out, "--render", "voyager",
                     "--audio-format", "flac")
    assert result.returncode == 0, result.stderr
    notes = read_midi(out)
    primer_end = max(n.end for n in read_midi(resolve_primer("2")))
    assert max(n.end for n in notes) >= primer_end + 4.0  # at least ~5 s of new music after the seed
    audio, rate = sf.read(str(tmp_path / "piece.flac"))
    assert audio.shape[1] == 2 and len(audio) / rate > primer_end


def test_unknown_render_instrument_fails_before_generating(tiny_model_dir, primer, tmp_path):
    one_line_error(ambient("generate", "--model", tiny_model_dir, "--primer", primer, "--render", "kazoo",
                           "-o", tmp_path / "x.mid"), "kazoo: no such instrument")
    assert not (tmp_path / "x.mid").exists()
