"""Scores as the pipeline will see a user's records: rendered through our instruments,
then transcribed back with `ambient transcribe`, so transcription noise (ragged onsets,
split and merged notes, held-over pitches, echoes) is in the training distribution.

Pieces are split by name, never by chance: a piece whose name hashes to 0 mod 10 is
held out. Held-out pieces are rendered only with the held-out instruments, so an
evaluation on them meets neither the pieces nor the timbres training saw.

    python scripts/build_transcribed_corpus.py runs/corpus runs/data \\
        --train-pieces 150 --eval-pieces 24 --seconds 100

writes runs/data/train/   the clean scores of the training pieces and their transcriptions
       runs/data/eval/clean/  held-out scores, cut to the same length
       runs/data/eval/transcribed/  held-out pieces, rendered and transcribed
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

TRAIN_PRESETS = ("stratosphere", "peaceful-meadow", "calm-and-storm", "voyager")
HELD_OUT_PRESETS = ("underwater-temple", "parallel-universe", "deterioration")
RATE = 22050  # the transcriber's rate: rendering any finer is thrown away


def held_out(name: str) -> bool:
    return int(hashlib.sha1(name.encode()).hexdigest(), 16) % 10 == 0


def order(name: str) -> str:
    return hashlib.sha1(f"order:{name}".encode()).hexdigest()


def clip(notes, seconds: float):
    from ambient.notes import Note

    return [Note(n.start, min(n.end, seconds), n.pitch, n.velocity, n.program) for n in notes if n.start < seconds]


_model = None


def transcribe_rendered(job: tuple[Path, str, Path, float, int]) -> str:
    """Render one score with one instrument and transcribe it back into `target`."""
    global _model
    source, instrument, target, seconds, seed = job
    from ambient.midi import read_midi
    from ambient.render import render
    from ambient.transcribe import BasicPitchModel, transcribe_file

    if _model is None:
        _model = BasicPitchModel()
    notes = clip(read_midi(source), seconds)
    with tempfile.TemporaryDirectory() as tmp:
        audio = Path(tmp) / "render.wav"
        render(notes, audio, instrument, seed=seed, rate=RATE)
        try:
            found = transcribe_file(audio, target, model=_model)
        except Exception as e:  # a silent render: report and go on
            return f"skipped {source.name} through {instrument}: {e}"
    return f"{target.name}: {len(found)} notes from {len(notes)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--train-pieces", type=int, default=150)
    parser.add_argument("--eval-pieces", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=100.0, help="each rendering's length")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from ambient.midi import read_midi, write_midi

    files = sorted(args.corpus.glob("*.mid"), key=lambda p: order(p.name))
    train = [p for p in files if not held_out(p.name)]
    evaluation = [p for p in files if held_out(p.name)][:args.eval_pieces]
    train_dir, clean_dir, heard_dir = args.out / "train", args.out / "eval" / "clean", args.out / "eval" / "transcribed"
    for folder in (train_dir, clean_dir, heard_dir):
        folder.mkdir(parents=True, exist_ok=True)
    for path in train:
        shutil.copyfile(path, train_dir / path.name)
    for path in evaluation:
        write_midi(clean_dir / path.name, clip(read_midi(path), args.seconds))
    jobs = []
    for i, path in enumerate(train[:args.train_pieces]):
        preset = TRAIN_PRESETS[i % len(TRAIN_PRESETS)]
        jobs.append((path, preset, train_dir / f"heard-{preset}-{path.name}", args.seconds, i))
    for i, path in enumerate(evaluation):
        preset = HELD_OUT_PRESETS[i % len(HELD_OUT_PRESETS)]
        jobs.append((path, preset, heard_dir / f"{preset}-{path.name}", args.seconds, i))
    with ProcessPoolExecutor(args.workers) as pool:
        for done, message in enumerate(pool.map(transcribe_rendered, jobs), 1):
            print(f"[{done}/{len(jobs)}] {message}", file=sys.stderr, flush=True)
    print(f"{len(train)} clean + {args.train_pieces} transcribed training pieces; "
          f"{len(evaluation)} held-out pieces, clean and transcribed, in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
