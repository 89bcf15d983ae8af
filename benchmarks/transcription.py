"""Transcription quality on known music: basic-pitch's defaults beside our ambient clean-up.

Pieces of known MIDI (a sample of the bundled model's corpus, and the seeds) are each
rendered twice, as a dry plucked tone and as a slow pad under long reverb, written as
MP3, decoded, and transcribed by both methods from the same model activations. Scores
are mir_eval's note F1 (onset within 50 ms and 150 ms; onset and offset) and frame F1
on a 10 ms grid. Prints one JSON line.

    python benchmarks/transcription.py [--pieces 22] [--seconds 30]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from pedalboard import Pedalboard, Reverb  # noqa: E402

from ambient.audio import TRANSCRIBER_RATE, decode  # noqa: E402
from ambient.midi import read_midi  # noqa: E402
from ambient.notes import Note  # noqa: E402
from ambient.render import render  # noqa: E402
from ambient.render.presets import Preset  # noqa: E402
from ambient.render.synth import Layer, Voice  # noqa: E402
from ambient.seeds import seed_paths  # noqa: E402
from ambient.transcribe import AmbientCleanup, BasicPitchDefaults, BasicPitchModel  # noqa: E402

ROOT = Path(__file__).parents[1]
PLUCK = Preset("dry-pluck", "", Voice((Layer("triangle", 1.0, 0.8), Layer("saw", 1.0, 0.2)), attack=0.004,
                                      decay=0.35, sustain=0.08, release=0.12, gain=0.3, spread=0.0),
               lambda: Pedalboard([]), tail=1.0)
PAD = Preset("reverb-pad", "", Voice((Layer("saw", 1.0, 0.7, (-7, 7)), Layer("sine", 1.0, 0.3)), attack=0.4,
                                     decay=2.0, sustain=0.9, release=1.0, gain=0.2, spread=0.2),
             lambda: Pedalboard([Reverb(room_size=0.92, damping=0.4, wet_level=0.5, dry_level=0.5)]), tail=6.0)


def corpus_pieces(count: int) -> list[list[Note]]:
    spec = importlib.util.spec_from_file_location("build_corpus", ROOT / "scripts" / "build_corpus.py")
    corpus = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(corpus)
    paths = corpus.score_paths()
    chosen = [paths[i] for i in np.random.default_rng(1).choice(len(paths), count, replace=False)]
    pieces = []
    with tempfile.TemporaryDirectory() as tmp:
        for collection, path in chosen:
            corpus.convert((collection, path, Path(tmp), 40.0))
        for midi in sorted(Path(tmp).glob("*.mid")):
            pieces.append(read_midi(midi))
    return pieces


def clip(notes: list[Note], seconds: float) -> list[Note]:
    return [Note(n.start, min(n.end, seconds), n.pitch, n.velocity) for n in notes
            if n.start < seconds - 0.1 and 21 <= n.pitch <= 108]


def frame_f1(ref: list[Note], est: list[Note], seconds: float, step: float = 0.01) -> float:
    def roll(notes):
        r = np.zeros((int(seconds / step) + 1, 128), bool)
        for n in notes:
            r[int(n.start / step):max(int(n.start / step) + 1, int(min(n.end, seconds) / step)), n.pitch] = True
        return r
    a, b = roll(ref), roll(est)
    tp = (a & b).sum()
    return float(2 * tp / max(a.sum() + b.sum(), 1))


def note_scores(ref: list[Note], est: list[Note], seconds: float) -> dict:
    import mir_eval

    def arrays(notes):
        if not notes:
            return np.zeros((0, 2)), np.zeros(0)
        return (np.array([[n.start, max(n.end, n.start + 0.01)] for n in notes]),
                np.array([440.0 * 2 ** ((n.pitch - 69) / 12) for n in notes]))
    (ri, rp), (ei, ep) = arrays(ref), arrays(est)
    f = mir_eval.transcription.precision_recall_f1_overlap
    return {"onset_f1_50ms": f(ri, rp, ei, ep, onset_tolerance=0.05, offset_ratio=None)[2],
            "onset_f1_150ms": f(ri, rp, ei, ep, onset_tolerance=0.15, offset_ratio=None)[2],
            "onset_offset_f1": f(ri, rp, ei, ep, onset_tolerance=0.05, offset_ratio=0.2)[2],
            "frame_f1": frame_f1(ref, est, seconds)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pieces", type=int, default=22, help="total, the seeds included")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    pieces = [read_midi(p) for p in seed_paths()]
    pieces += corpus_pieces(max(0, args.pieces - len(pieces)))
    pieces = [clip(p, args.seconds) for p in pieces]
    model = BasicPitchModel()
    methods = {"basic-pitch defaults": BasicPitchDefaults(), "ours": AmbientCleanup()}
    scores = {sound.name: {m: [] for m in methods} for sound in (PLUCK, PAD)}
    audio_seconds = compute_seconds = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for i, ref in enumerate(pieces):
            for sound in (PLUCK, PAD):
                mp3 = Path(tmp) / f"{i}-{sound.name}.mp3"
                render(ref, mp3, sound, seed=i)
                start = time.perf_counter()
                audio = decode(mp3)
                post = model.posteriors(audio)
                estimates = {m: method.notes(model, post, audio) for m, method in methods.items()}
                compute_seconds += time.perf_counter() - start
                audio_seconds += len(audio) / TRANSCRIBER_RATE
                for m, est in estimates.items():
                    scores[sound.name][m].append(note_scores(ref, est, args.seconds))
    summary = {sound: {m: {k: round(float(np.mean([s[k] for s in rows])), 3) for k in rows[0]}
                       for m, rows in by_method.items()} for sound, by_method in scores.items()}
    print(json.dumps({"benchmark": "transcription", "pieces": len(pieces), "seconds_each": args.seconds,
                      "scores": summary, "realtime_factor_one_core": round(audio_seconds / compute_seconds, 1),
                      "note": "realtime factor covers decode, model and both note creations"}))


if __name__ == "__main__":
    main()
