"""Write the bundled seed MIDIs in samples/midi/ (composed here, free to use).

Eight short ambient sketches, 20-60 s each, in different keys, registers and textures,
so a primer can be chosen for its mood. Deterministic: rerunning rewrites the same files.

    python scripts/make_seeds.py samples/midi
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ambient.midi import write_midi
from ambient.notes import Note

NAMES = {"C": 0, "C#": 1, "Db": 1, "D": 2, "Eb": 3, "E": 4, "F": 5, "F#": 6, "G": 7, "Ab": 8, "A": 9, "Bb": 10, "B": 11}


def pitch(name: str) -> int:
    """'C4' -> 60, 'F#2' -> 42."""
    return 12 * (int(name[-1]) + 1) + NAMES[name[:-1]]


def chord(names: str, start: float, dur: float, vel: int, rng) -> list[Note]:
    return [Note(start + rng.uniform(0, 0.04), start + dur, pitch(n), int(vel + rng.integers(-4, 5)))
            for n in names.split()]


def line(names: str, start: float, step: float, vel: int, rng, hold: float = 1.0) -> list[Note]:
    """A melody: '-' extends the previous note by one step, '.' is a rest."""
    notes, t = [], start
    for token in names.split():
        if token == "-" and notes:
            notes[-1] = Note(notes[-1].start, notes[-1].end + step, notes[-1].pitch, notes[-1].velocity)
        elif token not in ("-", "."):
            notes.append(Note(t, t + step * hold, pitch(token), int(vel + rng.integers(-6, 7))))
        t += step
    return notes


def dawn(rng):
    chords = ["D3 A3 C#4 F#4", "B2 F#3 A3 D4 C#5", "G2 D3 B3 F#4", "A2 E3 G3 D4"]
    notes = [n for i, c in enumerate(chords * 2) for n in chord(c, i * 6.0, 6.0, 52, rng)]
    return notes + line("F#5 - - E5 - A5 - - - . . . D5 - - C#5 - - B4 - - - . . A4 - - - - - - . . .", 6.0, 1.0, 60, rng)


def drift(rng):
    shapes = ["A2 E3 B3 C4 E4", "F2 C3 G3 A3 E4", "C3 G3 D4 E4 G4", "G2 D3 A3 B3 D4"]
    notes = []
    for bar, shape in enumerate(shapes * 2):
        ps = shape.split()
        for k, n in enumerate(ps + ps[-2:0:-1]):
            t = bar * 4.0 + k * 0.5
            notes.append(Note(t, t + 2.5, pitch(n), int(48 + 8 * (k == 0) + rng.integers(-5, 6))))
    return notes


def low_tide(rng):
    notes = [Note(0.0, 45.0, pitch("C2"), 50), Note(0.5, 45.0, pitch("G2"), 44)]
    notes += chord("C3 G3 D4", 4.0, 12.0, 40, rng) + chord("D3 A3 E4", 16.0, 12.0, 40, rng)
    notes += chord("C3 G3 B3 E4", 28.0, 16.0, 40, rng)
    return notes + line("E5 - F#5 - G5 - - - . . B5 - A5 - - - - . . . G5 - E5 - D5 - - - - - . . "
                        "E5 - - - F#5 - - - - - - - -", 6.0, 1.0, 56, rng)


def glass(rng):
    scale = [pitch(n) for n in "D5 E5 G5 A5 B5 D6 E6 G6".split()]
    notes, t = [], 0.0
    while t < 28.0:
        p = int(rng.choice(scale))
        notes.append(Note(t, t + float(rng.uniform(1.5, 4.0)), p, int(rng.integers(38, 62))))
        t += float(rng.choice([0.5, 0.75, 1.0, 1.5, 2.0]))
    return notes + chord("G3 D4 A4", 0.0, 14.0, 36, rng) + chord("E3 B3 F#4", 14.0, 14.0, 36, rng)


def cathedral(rng):
    progression = ["Eb3 G3 Bb3 Eb4", "C3 G3 C4 Eb4", "Ab2 Ab3 C4 Eb4", "Bb2 F3 Bb3 D4",
                   "G2 G3 Bb3 Eb4", "Ab2 F3 C4 Eb4", "Bb2 F3 Bb3 D4", "Eb3 G3 Bb3 Eb4"]
    return [n for i, c in enumerate(progression) for n in chord(c, i * 6.0, 6.0, 56 + 6 * (i % 2 == 0), rng)]


def night(rng):
    notes = chord("E2 B2 F#3 G3", 0.0, 18.0, 44, rng) + chord("A2 E3 G3 C#4", 18.0, 18.0, 44, rng)
    bell = "B4 . D5 . E5 - - - . . F#5 . E5 . D5 - - - . . B4 - - - - - A4 . B4 - - - - - - ."
    return notes + line(bell, 2.0, 0.75, 58, rng, hold=2.0)


def horizon(rng):
    roots = ["C3", "D3", "Eb3", "F3", "G3", "F3", "Eb3", "D3", "C3", "Bb2"]
    notes = []
    for i, r in enumerate(roots):
        p = pitch(r)
        for interval in (0, 7, 12, 17):
            notes.append(Note(i * 4.0 + rng.uniform(0, 0.05), i * 4.0 + 5.0, p + interval,
                              int(46 + rng.integers(-4, 5))))
    return notes


def seasons(rng):
    bars = ["F2 C3 A3", "D2 A2 F3", "Bb1 F2 D3", "C2 G2 E3"] * 2
    notes = []
    for i, b in enumerate(bars):
        for k, n in enumerate(b.split()):
            t = i * 3.6 + k * 1.2
            notes.append(Note(t, t + 3.4, pitch(n), int(50 - 4 * k + rng.integers(-3, 4))))
    return notes + line("A4 - - C5 - - F5 - - - - - E5 - - D5 - - C5 - - - - - "
                        "A4 - - Bb4 - - C5 - - - - - G4 - - - - - - - -", 0.0, 0.6, 58, rng)


SEEDS = [dawn, drift, low_tide, glass, cathedral, night, horizon, seasons]


def main() -> int:
    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "samples/midi")
    for number, compose in enumerate(SEEDS, 1):
        notes = compose(np.random.default_rng(number))
        write_midi(out_dir / f"{number}.mid", notes, text=f"ambient seed {number}: {compose.__name__.replace('_', ' ')}")
    print(f"wrote {len(SEEDS)} seeds to {out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
