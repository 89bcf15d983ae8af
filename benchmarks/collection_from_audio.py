"""A user's collection from audio to its own model, with the pipeline's defaults.

For each artist of `yardstick.COLLECTIONS`: the pieces it learns from, cut to their first
150 s, are rendered through an instrument (`--preset`: stratosphere, a pad; or
underwater-temple, bells) and become the user's audio files. `ambient pipeline init`,
`ingest` and `run` with every default then make a model. The artist's other pieces are
heard the same way (rendered, then `ambient transcribe`), since a collection's model is
judged on its own kind of transcription, and continued by the bundled model and by the
workspace's: NLL, every feature overlap, notes per minute, key fidelity, and the wall
time of each stage. One JSON line per artist.

    python benchmarks/collection_from_audio.py [--artists liquidmind,subtractivelad,rudyadrian]
        [--preset stratosphere] [--work runs/from-audio]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from collection import compare, cut
from yardstick import COLLECTIONS, collection_split, emit, figures, judge, read, segments

from ambient.midi import read_midi
from ambient.render import render


def hear(pieces: dict, preset: str, seconds: float, folder: Path) -> list[Path]:
    """Each piece's first `seconds` rendered through `preset`, as a user's audio file."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, notes in pieces.items():
        path = folder / (Path(name).stem + ".flac")
        render(cut(notes, seconds), path, preset)
        paths.append(path)
    return paths


def ambient(*args) -> tuple[str, float]:
    """Run the CLI as a user would; (stdout, seconds)."""
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "ambient", *map(str, args)], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"ambient {' '.join(map(str, args))} failed:\n{result.stderr}")
    return result.stdout, time.monotonic() - started


def stage_seconds(ws: Path) -> dict:
    """Wall seconds per stage of the last run, from the manifest's datum rows."""
    from ambient.pipeline import Workspace
    from ambient.pipeline.manifest import Manifest

    manifest = Manifest(Workspace(ws).manifest_path)
    try:
        return {stage: round(sum(r["seconds"] or 0 for r in manifest.datum_rows(stage)), 1)
                for stage in ("decode", "transcribe", "tokenize", "train")}
    finally:
        manifest.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artists", default="liquidmind,subtractivelad,rudyadrian")
    parser.add_argument("--preset", default="stratosphere")
    parser.add_argument("--seconds", type=float, default=150.0)
    parser.add_argument("--takes", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("runs/from-audio"))
    args = parser.parse_args()
    for artist in args.artists.split(","):
        if artist not in COLLECTIONS:
            sys.exit(f"{artist}: not one of the collections ({', '.join(COLLECTIONS)})")
        work = args.work / f"{artist}-{args.preset}"
        shutil.rmtree(work, ignore_errors=True)
        learn_paths, judged_paths = collection_split(artist)
        audio = hear(read(learn_paths), args.preset, args.seconds, work / "music")
        heard_judged = hear(read(judged_paths), args.preset, args.seconds, work / "judged-audio")
        ambient("transcribe", *heard_judged, "-o", work / "judged")
        judged = segments({p.name: read_midi(p) for p in sorted((work / "judged").glob("*.mid"))})
        ws = work / "ws"
        _, init = ambient("pipeline", "init", ws)
        _, ingest = ambient("pipeline", "ingest", work / "music", "-w", ws)
        out, ran = ambient("pipeline", "run", "-w", ws)
        chose = [line for line in out.splitlines() if line.startswith("train:")]
        before = figures(judge(None, judged, takes=args.takes))
        after = figures(judge(ws, judged, takes=args.takes))
        emit(compare(artist, before, after, preset=args.preset, learnt_from=len(audio), judged=len(judged_paths),
                     windows=len(judged), audio_seconds=args.seconds, train_log=chose,
                     wall_seconds={"init": round(init, 1), "ingest": round(ingest, 1), "run": round(ran, 1),
                                   "audio_to_model": round(init + ingest + ran, 1), **stage_seconds(ws)}))


if __name__ == "__main__":
    main()
