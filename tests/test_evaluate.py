"""The measures, on small pieces whose answers are known, and `ambient eval` end to end."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ambient.errors import AmbientError
from ambient.evaluate import metrics
from ambient.midi import write_midi
from ambient.notes import Note, transpose

C_MAJOR = [60, 62, 64, 65, 67, 69, 71]


def scale_run(pitches, seconds: float, step: float = 0.5, length: float = 0.5, start: float = 0.0) -> list[Note]:
    """A steady stream: one note every `step` seconds cycling through `pitches`."""
    count = int(round(seconds / step))
    return [Note(start + i * step, start + i * step + length, pitches[i % len(pitches)], 70) for i in range(count)]


def test_a_piece_in_c_major_keeps_its_key_with_itself_and_loses_it_a_tritone_away():
    piece = scale_run(C_MAJOR, 20)
    assert metrics.key_fidelity(piece, piece) == pytest.approx(1.0)
    assert metrics.key_fidelity(piece, transpose(piece, 6)) < 0.0   # F# major shares two notes with C
    assert math.isnan(metrics.key_fidelity(piece, []))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 11), min_size=3, max_size=12, unique=True), st.integers(1, 11))
def test_key_fidelity_of_a_transposition_is_the_histograms_circular_correlation(classes, semitones):
    piece = scale_run([60 + c for c in classes], 12.5)
    h = metrics.pitch_class_histogram(piece)
    if np.std(h) == 0:  # every class alike: no key to keep
        assert math.isnan(metrics.key_fidelity(piece, piece))
        return
    assert metrics.key_fidelity(piece, transpose(piece, 12)) == pytest.approx(1.0)  # an octave: the same key
    expected = np.corrcoef(h, np.roll(h, semitones))[0, 1]
    assert metrics.key_fidelity(piece, transpose(piece, semitones)) == pytest.approx(expected)


def test_a_constant_density_stream_has_drift_one_and_a_thinning_one_less():
    steady = scale_run(C_MAJOR, 300, step=0.5)
    assert metrics.density_drift(steady, 0, 300) == 1.0
    thinning = scale_run(C_MAJOR, 150, step=0.5) + scale_run(C_MAJOR, 150, step=2.0, start=150)
    assert metrics.density_drift(thinning, 0, 300) == pytest.approx(0.25)
    assert metrics.density_drift(scale_run(C_MAJOR, 30, step=0.5), 0, 30) == 1.0  # short: thirds, not minutes


def test_gaps_and_silences_in_seconds():
    notes = [Note(0, 1, 60, 70), Note(2, 9, 62, 70), Note(12, 13, 64, 70)]
    assert metrics.longest_onset_gap(notes, 0, 20) == 10.0      # from 2 to 12
    assert metrics.longest_silence(notes, 0, 20) == 7.0         # from 13 to the end
    assert metrics.longest_silence([], 0, 20) == 20.0


def test_polyphony_is_time_weighted_over_sounding_time():
    assert metrics.mean_polyphony([Note(0, 2, 60, 70), Note(0, 2, 64, 70), Note(4, 6, 67, 70)]) == 1.5
    assert metrics.mean_polyphony([]) == 0.0


def test_degenerate_output_is_named():
    loop = [Note(i * 0.25, i * 0.25 + 0.2, [60, 64, 67][i % 3], 70) for i in range(200)]
    assert metrics.loop_share(loop) == 1.0 and "loop" in metrics.degenerate(loop, 0, 50)
    assert metrics.degenerate([], 0, 60) == ["silent"]
    stuck = [Note(0, 60, 48, 70), Note(1, 2, 60, 70)]
    assert "stuck note" in metrics.degenerate(stuck, 0, 60)
    rng = np.random.default_rng(0)
    lively = [Note(t, t + 1.0, int(rng.integers(48, 72)), 70) for t in np.cumsum(rng.uniform(0.1, 1.5, 80))]
    assert metrics.degenerate(lively, 0, float(lively[-1].end)) == []
    drone = [Note(0, 60, 36, 70)] + [Note(t, t + 1, int(rng.integers(60, 72)), 70) for t in np.arange(0, 60, 0.8)]
    assert metrics.degenerate(drone, 0, 60) == []   # a drone under moving notes is the style, not a fault


def test_a_copied_phrase_is_found_even_transposed():
    rng = np.random.default_rng(1)
    corpus_piece = [Note(i * 0.5, i * 0.5 + 0.4, int(p), 70) for i, p in enumerate(rng.integers(50, 80, 60))]
    phrase = transpose([Note(n.start - 5.0, n.end - 5.0, n.pitch, n.velocity) for n in corpus_piece[10:35]], 5)
    fresh = [Note(30 + i * 0.7, 30.5 + i * 0.7, int(p), 70) for i, p in enumerate(rng.integers(40, 90, 20))]
    assert metrics.longest_shared_run(phrase + fresh, [corpus_piece]) >= 25
    assert metrics.longest_shared_run(fresh, [corpus_piece]) <= 3


def test_feature_overlap_is_high_for_the_same_distribution_and_low_for_another():
    rng = np.random.default_rng(2)
    real = [float(x) for x in rng.normal(10, 1, 24)]
    same = [float(x) for x in rng.normal(10, 1, 24)]
    other = [float(x) for x in rng.normal(30, 1, 24)]
    assert metrics.overlap(real, same) > 0.7
    assert metrics.overlap(real, other) < 0.05


def test_features_of_a_known_piece():
    f = metrics.features([Note(0, 1, 60, 60), Note(0.5, 2.5, 67, 80), Note(1.5, 2, 72, 100)])
    assert f["pitch_range"] == 12 and f["note_count"] == 3 and f["inter_onset_interval"] == 0.75
    assert f["note_length"] == pytest.approx(3.5 / 3) and f["velocity"] == 80
    assert f["pitch_class_histogram"].sum() == pytest.approx(1.0) and f["pitch_class_histogram"][0] == pytest.approx(1.5 / 3.5)


@pytest.fixture
def held_out(tmp_path):
    folder = tmp_path / "held-out"
    rng = np.random.default_rng(3)
    for i in range(3):
        root = int(rng.integers(0, 12))
        write_midi(folder / f"piece{i}.mid", scale_run([48 + root + s for s in (0, 4, 7, 12, 7, 4)], 40, step=0.4))
    write_midi(folder / "short.mid", scale_run(C_MAJOR, 5))
    return folder


def test_eval_writes_json_and_png_and_a_seed_repeats_its_numbers(tiny_model_dir, held_out, tmp_path):
    reports = []
    for name in ("a", "b"):
        result = subprocess.run([str(a) for a in [sys.executable, "-m", "ambient", "eval", held_out, "--model", tiny_model_dir,
                                 "--pieces", 3, "--primer-seconds", 10, "--seconds", 20, "--seed", 5,
                                 "--train-data", held_out, "-o", tmp_path / f"{name}.json"]],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        reports.append(json.loads((tmp_path / f"{name}.json").read_text()))
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    a, b = reports
    assert a["per_piece"] == b["per_piece"] and a["summary"] == b["summary"]
    assert a["pieces"] == 3 and [r["piece"] for r in a["per_piece"]] == ["piece0.mid", "piece1.mid", "piece2.mid"]
    assert set(a["held_out_nll"]["by_type"]) >= {"note_on", "note_off", "time_shift"}
    assert a["summary"]["real"]["key_fidelity"]["mean"] > 0.95   # arpeggios of one chord keep their key
    assert set(a["feature_overlap"]) == set(metrics.FEATURES)
    assert "longest_shared_run" in a["per_piece"][0]["generated"]


def test_takes_continue_each_primer_several_times_and_every_summary_counts_them(tiny_model_dir, held_out):
    from ambient.checkpoint import load_model
    from ambient.evaluate import EvalConfig, evaluate, read_pieces

    model, card = load_model(tiny_model_dir)
    pieces = read_pieces(held_out)
    one = evaluate(model, card, pieces, EvalConfig(pieces=3, primer_seconds=10, seconds=20, seed=5))
    three = evaluate(model, card, pieces, EvalConfig(pieces=3, primer_seconds=10, seconds=20, seed=5, takes=3))
    assert [len(r.get("more_takes", [])) for r in one["per_piece"]] == [0, 0, 0]
    assert [len(r["more_takes"]) for r in three["per_piece"]] == [2, 2, 2]
    made = three["summary"]["generated"]
    assert made["notes"]["n"] == 9 and three["summary"]["real"]["notes"]["n"] == 3
    every = [t["notes"] for r in three["per_piece"] for t in [r["generated"], *r["more_takes"]]]
    assert made["notes"]["mean"] == pytest.approx(np.mean(every), abs=1e-4)
    assert made["notes"]["sem"] == pytest.approx(np.std(every, ddof=1) / 3, abs=1e-4)
    assert three["settings"]["takes"] == 3
    again = evaluate(model, card, pieces, EvalConfig(pieces=3, primer_seconds=10, seconds=20, seed=5, takes=3))
    assert again["per_piece"] == three["per_piece"]
    with pytest.raises(AmbientError, match="takes must be at least 1, got 0"):
        evaluate(model, card, pieces, EvalConfig(pieces=3, primer_seconds=10, seconds=20, takes=0))


def test_summaries_carry_the_standard_error_of_their_mean():
    from ambient.evaluate.report import summarise

    assert summarise([1.0, 2.0, 3.0, float("nan")]) == {"mean": 2.0, "min": 1.0, "max": 3.0, "n": 3,
                                                         "sem": round(1 / np.sqrt(3), 4)}
    assert summarise([0.5])["sem"] is None and summarise([])["n"] == 0


def test_eval_with_nothing_long_enough_says_so(tiny_model_dir, tmp_path):
    folder = tmp_path / "short"
    write_midi(folder / "s.mid", scale_run(C_MAJOR, 5))
    result = subprocess.run([sys.executable, "-m", "ambient", "eval", folder, "--model", tiny_model_dir],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "no held-out piece is long enough" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_eval_primes_a_piece_that_opens_in_silence_from_its_first_note_and_names_what_it_skips(
        tiny_model_dir, tmp_path):
    folder = tmp_path / "late"
    write_midi(folder / "late.mid", scale_run(C_MAJOR, 40, start=33.0))   # first note 33 s in
    write_midi(folder / "short.mid", scale_run(C_MAJOR, 8))
    out = tmp_path / "eval.json"
    result = subprocess.run([sys.executable, "-m", "ambient", "eval", folder, "--model", tiny_model_dir,
                             "--primer-seconds", "10", "--seconds", "20", "-o", out],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert [row["piece"] for row in report["per_piece"]] == ["late.mid"]
    assert report["per_piece"][0]["real"]["notes"] == 40   # 20 s of notes every 0.5 s after a 10 s primer
    assert list(report["skipped"]) == ["short.mid"]
    assert "skipped short.mid: too short" in result.stderr and "Traceback" not in result.stderr
