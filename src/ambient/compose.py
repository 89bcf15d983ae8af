"""A procedural ambient composer: licence-clean music that sounds like the genre.

The bundled model learnt its language from chorales and madrigals, and answered drone
and pad records in that language (docs/bundled-model.md). This module writes the other
language from rules, so a model can learn it from data we may ship:

- `drone`: a pedal tone and its fifth or octave, held for tens of seconds to minutes,
  re-entered under itself so it never stops;
- `pad`: slow modal chords, each voice moving to the nearest tone of the next chord;
- `loops`: Eno's tape loops, a few notes each on loops of unequal lengths that phase;
- `ostinato`: an arpeggio over the mode's chords, a note every 0.07-0.6 s;
- `melody`: a sparse stepwise line over whatever holds beneath it;
- `swell`: close clusters whose voices enter one after another and fade together.

A piece layers one to three families in one key and mode (`compose`); as a record opens,
the layers above the first may enter one after another over its first `opening` seconds,
so a piece's start is sparser than what follows (a real record's first 20 s run at a
median 0.7 of the next minute's rate of notes). `as_heard`
rewrites a piece the way an automatic piano transcription hears a pad, which is how a
user's collection reaches the model (`ambient transcribe`): held notes re-struck every
fraction of a second, onsets smeared by a few milliseconds, faint overtone ghosts, levels
pressed into a narrow band, and every onset and end on the transcriber's frame grid.
Pure functions of a seeded `numpy` generator: the same seed gives the same piece.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ambient.errors import ParameterError
from ambient.notes import Note, sort_notes

MODES = {
    "ionian": (0, 2, 4, 5, 7, 9, 11), "dorian": (0, 2, 3, 5, 7, 9, 10), "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11), "mixolydian": (0, 2, 4, 5, 7, 9, 10), "aeolian": (0, 2, 3, 5, 7, 8, 10),
    "major-pentatonic": (0, 2, 4, 7, 9), "minor-pentatonic": (0, 3, 5, 7, 10), "in-sen": (0, 1, 5, 7, 10),
}
FAMILIES = ("drone", "pad", "loops", "ostinato", "melody", "swell")
KEYS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
DENSITY = (0.2, 15.0)        # notes a second a piece may ask for, from sparse loops to a fast arpeggio
SHORTEST = 0.1               # seconds: no family writes a shorter note
OPENS_BUILDING = 0.85        # share of drawn pieces whose layers enter one by one: the tuning artists'
                             # first 20 s are sparser than the minute after in 23 of 26 pieces


@dataclass(frozen=True)
class Recipe:
    """What one piece is: its layers, key, mode, length and how busy its busiest layer is."""
    families: tuple[str, ...] = ("drone", "pad", "loops")
    key: int = 2                 # pitch class of the tonic, 0 = C
    mode: str = "dorian"
    seconds: float = 120.0
    density: float = 1.0         # notes a second asked of the moving layers (loops, ostinato, melody)
    opening: float = 0.0         # seconds over which the layers above the first enter, one after another

    def __post_init__(self):
        unknown = [f for f in self.families if f not in FAMILIES]
        if unknown or not self.families:
            raise ParameterError("families", f"must be one or more of {', '.join(FAMILIES)}, "
                                             f"not {', '.join(unknown) or 'none'}")
        if self.mode not in MODES:
            raise ParameterError("mode", f"must be one of {', '.join(MODES)}, not {self.mode!r}")
        if not 0 <= self.key < 12:
            raise ParameterError("key", f"must be a pitch class 0-11, got {self.key}")
        if not self.seconds >= 10:
            raise ParameterError("seconds", f"must be at least 10, got {self.seconds}")
        if not DENSITY[0] <= self.density <= DENSITY[1]:
            raise ParameterError("density", f"must be in [{DENSITY[0]}, {DENSITY[1]}] notes a second, "
                                            f"got {self.density}")
        if not 0 <= self.opening <= self.seconds / 2:
            raise ParameterError("opening", f"must be 0 to half the piece ({self.seconds / 2:g} s), got {self.opening}")


def key_number(name: str) -> int:
    """A key's pitch class from its name ('D', 'Eb', 'f#') or number ('2')."""
    spelled = {k.lower(): i for i, k in enumerate(KEYS)} | {"db": 1, "d#": 3, "gb": 6, "g#": 8, "a#": 10}
    text = name.strip().lower()
    if text.isdigit() and int(text) < 12:
        return int(text)
    if text not in spelled:
        raise ParameterError("key", f"must be a note name (C, F#, Bb) or 0-11, not {name!r}")
    return spelled[text]


def scale_pitches(key: int, mode: str, low: int, high: int) -> list[int]:
    """Every MIDI pitch of the mode in [low, high], ascending."""
    classes = {(key + step) % 12 for step in MODES[mode]}
    return [p for p in range(low, high + 1) if p % 12 in classes]


def chord(degree: int, key: int, mode: str, size: int) -> list[int]:
    """Pitch classes of the mode's chord stacked in thirds (every other step) on `degree`."""
    steps = MODES[mode]
    return [(key + steps[(degree + 2 * i) % len(steps)]) % 12 for i in range(size)]


def nearest_voicing(classes: list[int], previous: list[int], low: int, high: int) -> list[int]:
    """Each previous voice moves to the nearest pitch of the new chord (voice-leading)."""
    voices = []
    for i, old in enumerate(previous):
        wanted = classes[i % len(classes)]
        options = [p for p in range(low, high + 1) if p % 12 == wanted]
        voices.append(min(options, key=lambda p: (abs(p - old), p)))
    return sorted(set(voices))


def _velocity(rng: np.random.Generator, centre: int, spread: int = 8) -> int:
    return int(np.clip(round(rng.normal(centre, spread)), 1, 127))


def drone(rng: np.random.Generator, recipe: Recipe) -> list[Note]:
    root = int(rng.integers(36, 48))
    root += (recipe.key - root) % 12
    if root > 50:
        root -= 12
    pitches = [root] + [root + int(rng.choice([7, 12]))] * int(rng.random() < 0.7)
    notes = []
    for pitch in pitches:
        t = float(rng.uniform(0, 2))
        while t < recipe.seconds:
            length = float(rng.uniform(20, 120))
            end = min(t + length, recipe.seconds)
            if end - t >= SHORTEST:
                notes.append(Note(t, end, pitch, _velocity(rng, 52)))
            t = end - float(rng.uniform(0, 3)) if end < recipe.seconds else end  # the next enters under it
    return notes


def pad(rng: np.random.Generator, recipe: Recipe) -> list[Note]:
    size = 3 if len(MODES[recipe.mode]) < 6 else int(rng.choice([3, 4]))
    voices = sorted(int(p) for p in rng.choice(scale_pitches(recipe.key, recipe.mode, 52, 72), size, replace=False))
    notes, t, degree = [], 0.0, 0
    while t < recipe.seconds:
        length = float(rng.uniform(4, 16))
        voices = nearest_voicing(chord(degree, recipe.key, recipe.mode, size), voices, 48, 76)
        end = min(t + length + float(rng.uniform(0, 1.5)), recipe.seconds)  # chords overlap a little
        notes += [Note(t, end, p, _velocity(rng, 48)) for p in voices if end - t >= SHORTEST]
        t += length
        degree = (degree + int(rng.choice([1, 2, 3, 4, 5, -1, -2]))) % len(MODES[recipe.mode])
    return notes


def loops(rng: np.random.Generator, recipe: Recipe) -> list[Note]:
    pitches = scale_pitches(recipe.key, recipe.mode, 55, 84)
    count = int(rng.integers(2, 6))
    # loops of unequal lengths, few notes each, so the whole rarely repeats
    periods = rng.uniform(6, 32, count)
    # a loop is a few notes: past two a second it would be an ostinato, not a tape loop
    per_loop = np.maximum(1, np.round(min(recipe.density, 2.0) * periods / count)).astype(int)
    notes = []
    for period, n in zip(periods, per_loop):
        offsets = np.sort(rng.uniform(0, period, n))
        chosen = [int(p) for p in rng.choice(pitches, n)]
        lengths = rng.uniform(0.4, 6.0, n)
        velocities = [_velocity(rng, 60, 12) for _ in range(n)]
        start = 0.0
        while start < recipe.seconds:
            for offset, pitch, length, velocity in zip(offsets, chosen, lengths, velocities):
                t = start + float(offset)
                if t < recipe.seconds:
                    notes.append(Note(t, min(t + float(length), recipe.seconds), pitch, velocity))
            start += float(period)
    return [n for n in notes if n.duration >= SHORTEST]


def ostinato(rng: np.random.Generator, recipe: Recipe) -> list[Note]:
    step = float(np.clip(1.0 / recipe.density, 0.067, 0.6))
    # how long each note rings, dry pluck to pedalled, but never more than six deep
    ring = min(float(rng.uniform(SHORTEST, 2.0)), 6 * step)
    pattern = list(rng.permutation(int(rng.integers(3, 6))))
    notes, t, degree = [], 0.0, 0
    while t < recipe.seconds:
        classes = chord(degree, recipe.key, recipe.mode, 4)
        register = scale_pitches(recipe.key, recipe.mode, 55, 86)
        tones = [p for p in register if p % 12 in classes][:6]
        bar_end = min(t + float(rng.uniform(6, 20)), recipe.seconds)
        i = 0
        while t < bar_end:
            pitch = tones[pattern[i % len(pattern)] % len(tones)]
            notes.append(Note(t, min(t + max(ring, step), recipe.seconds), pitch, _velocity(rng, 55, 10)))
            t += step * float(rng.uniform(0.97, 1.03))  # a human hand, not a clock
            i += 1
        degree = (degree + int(rng.choice([1, 3, 4, -1]))) % len(MODES[recipe.mode])
    return [n for n in notes if n.duration >= SHORTEST]


def melody(rng: np.random.Generator, recipe: Recipe) -> list[Note]:
    pitches = scale_pitches(recipe.key, recipe.mode, 60, 88)
    index = int(rng.integers(len(pitches) // 3, 2 * len(pitches) // 3))
    gap = 1.0 / min(recipe.density, 2.0)
    notes, t = [], float(rng.uniform(0, 3))
    while t < recipe.seconds:
        length = float(rng.uniform(0.5, 6.0))
        notes.append(Note(t, min(t + length, recipe.seconds), pitches[index], _velocity(rng, 62, 12)))
        index = int(np.clip(index + rng.choice([-2, -1, -1, 0, 1, 1, 2]), 0, len(pitches) - 1))
        t += float(rng.exponential(gap)) + SHORTEST
    return [n for n in notes if n.duration >= SHORTEST]


def swell(rng: np.random.Generator, recipe: Recipe) -> list[Note]:
    pitches = scale_pitches(recipe.key, recipe.mode, 48, 84)
    notes, t = [], float(rng.uniform(0, 4))
    while t < recipe.seconds:
        length = float(rng.uniform(6, 30))
        base = int(rng.integers(0, len(pitches) - 6))
        cluster = pitches[base:base + int(rng.integers(3, 7))]
        for k, pitch in enumerate(cluster):
            start = t + k * float(rng.uniform(0.2, 2.5))
            end = min(t + length, recipe.seconds)
            if end - start >= SHORTEST:
                notes.append(Note(start, end, pitch, _velocity(rng, 45 + 4 * k)))
        t += length * float(rng.uniform(0.6, 1.2))
    return notes


WRITERS = {"drone": drone, "pad": pad, "loops": loops, "ostinato": ostinato, "melody": melody, "swell": swell}


def compose(recipe: Recipe, seed: int = 0) -> list[Note]:
    """One piece: each family of the recipe written over the whole length, in one key and mode."""
    rng = np.random.default_rng([seed, 7919])
    layers = [WRITERS[family](rng, recipe) for family in recipe.families]
    if recipe.opening > 0 and len(layers) > 1:
        # the first layer opens the piece; each other enters at its own time within the opening
        entries = [0.0, *np.sort(rng.uniform(0.2, 1.0, len(layers) - 1)) * recipe.opening]
        layers = [_from(layer, float(t)) for layer, t in zip(layers, entries)]
    return sort_notes([n for layer in layers for n in layer])


def _from(notes: list[Note], entry: float) -> list[Note]:
    """A layer as it sounds once it enters at `entry`: a note already held starts there."""
    return [Note(max(n.start, entry), n.end, n.pitch, n.velocity, n.program)
            for n in notes if n.end - max(n.start, entry) >= SHORTEST]


def random_recipe(rng: np.random.Generator, seconds: tuple[float, float] = (60.0, 240.0)) -> Recipe:
    """A recipe drawn across every key, mode and density: a ground layer, then one or two on top."""
    ground = [str(rng.choice(["drone", "pad", "swell"]))]
    if rng.random() < 0.4:
        ground.append("pad" if ground[0] != "pad" else "drone")
    top = [str(f) for f in rng.choice(["loops", "ostinato", "melody"], int(rng.integers(0, 3)), replace=False)]
    density = float(np.exp(rng.uniform(np.log(DENSITY[0]), np.log(DENSITY[1]))))
    key, mode, length = int(rng.integers(12)), str(rng.choice(list(MODES))), float(rng.uniform(*seconds))
    # most records build as they open; some start whole
    opening = float(rng.uniform(10.0, min(60.0, length / 2))) if rng.random() < OPENS_BUILDING else 0.0
    return Recipe(families=tuple(ground + top), key=key, mode=mode, seconds=length, density=density, opening=opening)


# Transcribers read sound in frames, so every onset and end they write falls on their frame
# grid: a transcription's time shifts are a few multiples of one frame, not any 10 ms step.
# Onsets and Frames (the real records' transcriber, ../shared/ambient-real) hears 31.25
# frames a second; basic-pitch (ours, `ambient transcribe`) 22,050 / 256.
FRAMES = {"onsets-and-frames": 512 / 16000, "basic-pitch": 256 / 22050}
# A transcriber reads a held sound's level into a narrow band that follows the sound's slow
# swells: soft strikes come out louder and loud ones softer, v -> LEVEL + SPREAD * (v - LEVEL),
# plus a slow swell of about SWELL (in MIDI velocity) over tens of seconds and a WOBBLE of a
# unit or two, so notes close in time come out close in level. Chosen on the tuning artists'
# transcriptions (benchmarks/corpus_texture.py: velocity spread within a minute 6.3, from
# onset to onset 6.2; these give 7.2 and 6.3, where pressing alone gave 10.5 and 14.7) and
# their velocity tokens (cross-entropy 2.33 nats, their own entropy 2.26).
LEVEL, SPREAD, WOBBLE, SWELL = 60, 0.4, 2, 8
GHOST_SOFTER = 3             # a ghost is heard this much softer than its strike (MIDI velocity)
OVERTONES = (12, 19, 24)     # a ghost is heard an octave, a twelfth or two octaves up


@dataclass(frozen=True)
class Hearing:
    """How a piano transcriber hears sustained sound (the texture of `ambient transcribe` output)."""
    restrike: float = 0.5        # median seconds between re-strikes of a held note
    jitter: float = 0.02         # seconds of onset smear
    ghosts: float = 0.1          # chance that a strike also sounds faintly an overtone up
    dropout: float = 0.1         # chance that a strike is not heard at all
    voices: int = 6              # strikes heard at once at most; a transcriber loses the rest in the wash
    frame: float = FRAMES["basic-pitch"]   # seconds: every onset and end falls on this grid (0: none)


def random_hearing(rng: np.random.Generator) -> Hearing:
    # ranges around real transcribed records (benchmarks/yardstick.py's tuning artists: a
    # median note of 0.19 s, about 4 sounding, 10 notes a second), read by either transcriber
    return Hearing(restrike=float(np.exp(rng.uniform(np.log(0.08), np.log(0.8)))),
                   jitter=float(rng.uniform(0.0, 0.04)), ghosts=float(rng.uniform(0.0, 0.3)),
                   dropout=float(rng.uniform(0.05, 0.45)), voices=int(rng.integers(3, 9)),
                   frame=float(FRAMES[str(rng.choice(sorted(FRAMES)))]))


def as_heard(notes: list[Note], hearing: Hearing, seed: int = 0) -> list[Note]:
    """The piece as an automatic piano transcription reads it: each held note broken into
    re-strikes of lognormal length around `hearing.restrike`, uneven in velocity within the
    transcriber's narrow band, some lost, some with a faint overtone ghost, every onset and
    end on the transcriber's frame grid."""
    rng = np.random.default_rng([seed, 104729])
    # the level a transcriber reads follows the sound's slow swells, so notes close in time
    # come out at close velocities: three slow waves of random period and phase
    periods, phases = rng.uniform(5.0, 60.0, 3), rng.uniform(0.0, 2 * np.pi, 3)

    def swell(t: float) -> float:
        return SWELL * float(np.sin(2 * np.pi * t / periods + phases).sum()) / np.sqrt(3)

    heard = []
    for note in notes:
        t = note.start
        velocity = float(note.velocity)
        while t < note.end - 1e-6:
            piece = float(rng.lognormal(np.log(hearing.restrike), 0.8))
            end = min(t + max(piece, SHORTEST), note.end)
            if rng.random() >= hearing.dropout or t == note.start:
                start = max(0.0, t + float(rng.normal(0, hearing.jitter)))
                level = LEVEL + SPREAD * (velocity - LEVEL) + swell(start) + rng.normal(0, WOBBLE)
                v = int(np.clip(round(level), 1, 127))
                if end - start >= SHORTEST / 2:
                    heard.append(Note(start, end, note.pitch, v, note.program))
                    overtone = note.pitch + int(rng.choice(OVERTONES))
                    if rng.random() < hearing.ghosts and overtone <= 127:
                        ghost_end = min(end, start + float(rng.uniform(0.05, 0.3)))
                        heard.append(Note(start, ghost_end, overtone, max(1, v - GHOST_SOFTER), note.program))
            # a re-strike is heard a little softer than the last, but a held sound stays near its
            # level (decaying toward 20 gave the heard pieces a median velocity of 39; the
            # records' transcriptions sit at 54)
            velocity = max(0.8 * note.velocity, velocity * 0.97)
            t = end
    return _at_most(sort_notes(_on_frames(heard, hearing.frame)), hearing.voices)


def _on_frames(notes: list[Note], frame: float) -> list[Note]:
    """Every onset and end moved to the nearest frame; a note lasts one frame at least."""
    if frame <= 0:
        return notes
    placed = []
    for n in notes:
        start = round(n.start / frame) * frame
        placed.append(Note(start, max(start + frame, round(n.end / frame) * frame), n.pitch, n.velocity, n.program))
    return placed


def _at_most(notes: list[Note], voices: int) -> list[Note]:
    """The notes that start while fewer than `voices` others sound (earlier and lower first)."""
    import heapq

    kept, ends = [], []
    for note in notes:
        while ends and ends[0] <= note.start:
            heapq.heappop(ends)
        if len(ends) < voices:
            kept.append(note)
            heapq.heappush(ends, note.end)
    return kept
