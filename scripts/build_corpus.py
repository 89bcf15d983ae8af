"""Build the bundled model's training set from the music21 corpus (no network needed).

Collections: Bach's chorales (Greentree's encodings), Monteverdi's madrigals and
Josquin, all sustained vocal polyphony whose encodings carry no non-commercial or
derivative-work restriction. Palestrina (Humdrum, "rights to all derivative electronic
formats reserved") and the Essen folk songs (non-commercial) are left out on purpose.

Each score is slowed into an ambient register (a quarter note lasts 60/BPM seconds,
40 bpm by default, whatever the score's own tempo) and written as one MIDI file.

    python scripts/build_corpus.py runs/corpus            # about 470 files, a few minutes
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

COLLECTIONS = {"bach": "bwv*.mxl", "monteverdi": "madrigal*.mxl", "josquin": "*"}


def score_paths() -> list[tuple[str, Path]]:
    import music21

    root = Path(music21.__file__).parent / "corpus"
    out = []
    for collection, pattern in COLLECTIONS.items():
        for path in sorted((root / collection).glob(pattern)):
            if path.suffix in (".mxl", ".xml", ".krn", ".musicxml"):
                out.append((collection, path))
    return out


def convert(job: tuple[str, Path, Path, float]) -> str:
    collection, path, out_dir, bpm = job
    import music21

    from ambient.midi import write_midi
    from ambient.notes import Note

    seconds_per_quarter = 60.0 / bpm
    try:
        score = music21.converter.parse(str(path))
    except Exception as e:  # music21 raises many kinds for odd encodings
        return f"skipped {path.name}: {e}"
    notes = []
    for index, part in enumerate(score.parts):
        base = 72 if index == 0 else 60  # the top voice carries the tune
        for element in part.stripTies().flatten().notes:
            start = float(element.offset) * seconds_per_quarter
            end = start + float(element.quarterLength) * seconds_per_quarter
            accent = 6 if float(element.offset) % 4 == 0 else (3 if float(element.offset) % 1 == 0 else 0)
            for pitch in element.pitches:
                if end > start and 0 <= pitch.midi <= 127:
                    notes.append(Note(start, end, int(pitch.midi), base + accent, 0))
    if not notes:
        return f"skipped {path.name}: no notes"
    name = f"{collection}-{path.stem}".replace(" ", "_").lower() + ".mid"
    write_midi(out_dir / name, notes)
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--bpm", type=float, default=40.0, help="quarter notes per minute (default 40)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(c, p, args.out_dir, args.bpm) for c, p in score_paths()]
    with ProcessPoolExecutor(args.workers) as pool:
        for message in pool.map(convert, jobs, chunksize=4):
            if message:
                print(message, file=sys.stderr)
    print(f"{len(list(args.out_dir.glob('*.mid')))} MIDI files in {args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
