"""The transcription benchmark's audio: known notes played in many timbres and rooms.

A condition is a timbre under a reverb. The conditions are split three ways: the **tuning
set**, on which every knob of the clean-up is chosen, and two **held-out sets**, on which
it is reported. No two share a timbre or a reverb algorithm (the tuning rooms are
pedalboard's Freeverb, the first held-out rooms convolution with synthetic impulse
responses, the second a feedback delay network), and their generated pieces come from
seeds of their own; the "seed" material, eight MIDI files, recurs transposed. A knob that
only fits the tuning sounds shows up as a gap. The second held-out set was added after
the first had been read eight times: it is the one no choice has seen.

Each condition plays several kinds of material (a dense chorale, a sparse ambient seed,
slow chords in a minor mode, a running arpeggio, a melody over a drone), each in a key and
register of its own, clipped to `seconds`. Clips are written as MP3, decoded as a user's
file would be, and their model activations cached under the cache folder, so a tuning
search reruns only the clean-up.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from pedalboard import Pedalboard, Reverb
from scipy.signal import fftconvolve, lfilter

from ambient.audio import decode
from ambient.midi import read_midi
from ambient.notes import Note
from ambient.render.synth import Layer, SynthVoices, Voice
from ambient.seeds import seed_paths

ROOT = Path(__file__).parents[1]
RATE = 44100
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
VERSION = "1"  # bump when the clips change in a way their key below does not show


@dataclass(frozen=True)
class Timbre:
    name: str
    kind: str                  # "plucked" (sharp attack, decays) or "sustained" (held, slow attack)
    voice: Voice | None = None
    program: int | None = None  # a General MIDI program through FluidSynth instead of a voice
    tail: float = 2.0

    def play(self, notes: list[Note], seconds: float, seed: int) -> np.ndarray:
        total = int((seconds + self.tail) * RATE)
        if self.voice is not None:
            return SynthVoices(notes, self.voice, RATE, seed).block(0, total)
        from ambient.render.soundfont import SoundFontVoices
        return SoundFontVoices(notes, SOUNDFONT, self.program, RATE).block(0, total)


TIMBRES = {t.name: t for t in [
    # tuning timbres
    Timbre("synth-pluck", "plucked", Voice((Layer("triangle", 1.0, 0.8), Layer("saw", 1.0, 0.2)), attack=0.004,
                                           decay=0.35, sustain=0.08, release=0.12, gain=0.3, spread=0.0)),
    Timbre("fm-bell", "plucked", Voice((Layer("sine", 1.0, 0.7), Layer("sine", 2.0, 0.15), Layer("sine", 2.76, 0.1),
                                        Layer("sine", 5.4, 0.04)), attack=0.003, decay=1.2, sustain=0.15,
                                       release=0.8, gain=0.3, spread=0.1)),
    Timbre("saw-pad", "sustained", Voice((Layer("saw", 1.0, 0.7, (-7, 7)), Layer("sine", 1.0, 0.3)), attack=0.4,
                                         decay=2.0, sustain=0.9, release=1.0, gain=0.2, spread=0.2), tail=3.0),
    Timbre("sf-choir", "sustained", program=52, tail=3.0),
    Timbre("sf-guitar", "plucked", program=24),
    Timbre("sf-dulcimer", "plucked", program=15),
    Timbre("sf-vibraphone", "plucked", program=11),
    Timbre("sf-harpsichord", "plucked", program=6),
    Timbre("sf-steel-guitar", "plucked", program=25),
    # held-out timbres
    Timbre("sf-piano", "plucked", program=0),
    Timbre("sf-harp", "plucked", program=46),
    Timbre("sf-strings", "sustained", program=48, tail=3.0),
    # second held-out timbres (built after the first held-out set had been read eight times)
    Timbre("sf-epiano", "plucked", program=4),
    Timbre("sf-koto", "plucked", program=107),
    Timbre("sf-warm-pad", "sustained", program=89, tail=3.0),
    Timbre("sf-flute", "sustained", program=73, tail=3.0),
    Timbre("organ-pad", "sustained", Voice((Layer("organ", 1.0, 0.6, (-5, 5), sway=0.25, sway_hz=0.1),
                                            Layer("choir", 1.0, 0.3, (-9, 9)), Layer("sine", 2.0, 0.1)),
                                           attack=1.0, decay=3.0, sustain=0.8, release=1.5, gain=0.18, spread=0.3),
           tail=3.0),
]}


def freeverb(room_size: float, wet: float, damping: float):
    def apply(stereo: np.ndarray) -> np.ndarray:
        board = Pedalboard([Reverb(room_size=room_size, damping=damping, wet_level=wet, dry_level=1 - wet)])
        return board(stereo, RATE)
    return apply


def impulse_response(rt60: float, brightness: float, seed: int) -> np.ndarray:
    """A stereo room: sparse early reflections, then decaying noise whose highs die first."""
    rng = np.random.default_rng(seed)
    n = int(rt60 * 1.2 * RATE)
    t = np.arange(n) / RATE
    ir = np.zeros((2, n))
    for ch in range(2):
        noise = rng.standard_normal(n)
        low = lfilter([0.05], [1, -0.95], noise)           # the body of the tail
        high = noise - lfilter([0.3], [1, -0.7], noise)     # air, which decays twice as fast
        ir[ch] = (low * np.exp(-6.9 * t / rt60) + brightness * high * np.exp(-13.8 * t / rt60))
        ir[ch] *= np.clip((t - 0.02) / 0.03, 0, 1)            # 20 ms pre-delay, then the tail builds
        for delay, gain in zip(rng.uniform(0.005, 0.06, 8), rng.uniform(0.2, 0.6, 8)):
            ir[ch, int(delay * RATE)] += gain * rng.choice([-1, 1])
    return ir / np.sqrt((ir ** 2).sum(axis=1, keepdims=True))


def convolution(rt60: float, wet: float, brightness: float, seed: int):
    ir = impulse_response(rt60, brightness, seed)

    def apply(stereo: np.ndarray) -> np.ndarray:
        tail = np.stack([fftconvolve(stereo[ch], ir[ch])[:stereo.shape[1]] for ch in range(2)])
        dry_level = np.sqrt((stereo ** 2).mean()) + 1e-12
        tail *= dry_level / (np.sqrt((tail ** 2).mean()) + 1e-12)
        return (1 - wet) * stereo + wet * tail
    return apply


def feedback_delay_network(rt60: float, wet: float, damping: float, seed: int):
    """A third reverb algorithm: eight delay lines fed back through an orthogonal (Householder)
    matrix, each line's gain set so that its loop decays 60 dB in `rt60` seconds, and a one-pole
    low-pass in every loop (`damping`) so the highs die first. The loop runs a block at a time:
    no block is longer than the shortest line, so every sample a block reads was written before."""
    rng = np.random.default_rng(seed)
    delays = np.array([1031, 1327, 1523, 1871, 2053, 2381, 2713, 3049])
    lines = len(delays)
    feedback = np.eye(lines) - 2.0 / lines
    gains = 10 ** (-3 * delays / (RATE * rt60))
    into, left, right = (rng.choice([-1.0, 1.0], lines) for _ in range(3))

    def apply(stereo: np.ndarray) -> np.ndarray:
        source = stereo.mean(axis=0)
        n, block = stereo.shape[1], int(delays.min())
        written, heard = np.zeros((lines, n)), np.zeros((lines, n))
        state = np.zeros((lines, 1))
        for start in range(0, n, block):
            stop = min(n, start + block)
            read = np.zeros((lines, stop - start))
            for i, d in enumerate(delays):
                lo = start - d
                if stop - d > 0:
                    read[i, max(0, -lo):] = written[i, max(0, lo):stop - d]
            read, state = lfilter([1 - damping], [1, -damping], read, axis=1, zi=state)
            heard[:, start:stop] = read
            written[:, start:stop] = feedback @ (gains[:, None] * read) + into[:, None] * source[start:stop]
        tail = np.stack([left @ heard, right @ heard])
        dry_level = np.sqrt((stereo ** 2).mean()) + 1e-12
        tail *= dry_level / (np.sqrt((tail ** 2).mean()) + 1e-12)
        return (1 - wet) * stereo + wet * tail
    return apply


REVERBS = {
    "dry": lambda stereo: stereo,
    # tuning rooms: Freeverb
    "freeverb-room": freeverb(0.5, 0.3, 0.5),
    "freeverb-hall": freeverb(0.95, 0.5, 0.3),
    # held-out rooms: convolution, RT60 0.8 s and 5 s
    "conv-room": convolution(0.8, 0.35, 0.5, seed=3),
    "conv-hall": convolution(5.0, 0.55, 0.3, seed=4),
    # second held-out rooms: a feedback delay network, RT60 1.5 s and 7 s
    "fdn-room": feedback_delay_network(1.5, 0.35, 0.3, seed=5),
    "fdn-hall": feedback_delay_network(7.0, 0.5, 0.2, seed=6),
}
SPLITS = {
    "tuning": [(t, r) for t in ("synth-pluck", "fm-bell", "saw-pad", "sf-choir", "sf-guitar", "sf-dulcimer",
                                "sf-vibraphone", "sf-harpsichord", "sf-steel-guitar")
               for r in ("dry", "freeverb-room", "freeverb-hall")],
    "held-out": [(t, r) for t in ("sf-piano", "sf-harp", "sf-strings", "organ-pad")
                 for r in ("dry", "conv-room", "conv-hall")],
    "held-out-2": [(t, r) for t in ("sf-epiano", "sf-koto", "sf-warm-pad", "sf-flute")
                   for r in ("dry", "fdn-room", "fdn-hall")],
}
SPLIT_SEEDS = {"tuning": 0, "held-out": 1, "held-out-2": 2}
KINDS = ("chorale", "seed", "chords", "arpeggio", "drone-melody")
MINOR_MODES = {"aeolian": (0, 2, 3, 5, 7, 8, 10), "dorian": (0, 2, 3, 5, 7, 9, 10), "phrygian": (0, 1, 3, 5, 7, 8, 10)}


def _corpus_module():
    spec = importlib.util.spec_from_file_location("build_corpus", ROOT / "scripts" / "build_corpus.py")
    corpus = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(corpus)
    return corpus


def chorale(rng: np.random.Generator) -> list[Note]:
    corpus = _corpus_module()
    paths = corpus.score_paths()
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(5):  # a few scores do not parse; try another
            collection, path = paths[int(rng.integers(len(paths)))]
            corpus.convert((collection, path, Path(tmp), float(rng.uniform(40, 90))))
            found = sorted(Path(tmp).glob("*.mid"))
            if found:
                return read_midi(found[0])
    raise RuntimeError("no corpus score converted")


def scale_pitches(rng: np.random.Generator, low: int, high: int) -> list[int]:
    root = int(rng.integers(12))
    steps = MINOR_MODES[str(rng.choice(list(MINOR_MODES)))]
    return [p for p in range(low, high + 1) if (p - root) % 12 in steps]


def velocity(rng) -> int:
    return int(rng.integers(45, 110))


def chords(rng, seconds: float) -> list[Note]:
    pitches, notes, t = scale_pitches(rng, 40, 84), [], 0.0
    while t < seconds:
        length = float(rng.uniform(2.0, 5.0))
        base = int(rng.integers(0, len(pitches) - 7))
        for step in sorted(rng.choice([0, 2, 4, 6, 7], size=int(rng.integers(3, 5)), replace=False)):
            notes.append(Note(t + float(rng.uniform(0, 0.08)), t + length, pitches[base + step], velocity(rng)))
        t += length + float(rng.uniform(0, 0.6))
    return notes


def arpeggio(rng, seconds: float) -> list[Note]:
    low = int(rng.integers(45, 65))
    pitches, notes, t = scale_pitches(rng, low, low + 24), [], 0.0
    step = float(rng.uniform(0.18, 0.45))
    while t < seconds:
        notes.append(Note(t, t + step * float(rng.uniform(0.8, 3.0)), int(rng.choice(pitches)), velocity(rng)))
        t += step * float(rng.choice([1, 1, 1, 2]))
    return notes


def drone_melody(rng, seconds: float) -> list[Note]:
    pitches = scale_pitches(rng, 36, 88)
    root = pitches[int(rng.integers(0, 5))]
    notes = [Note(0.0, seconds, root, velocity(rng)), Note(0.0, seconds, root + 7, velocity(rng))]
    t = float(rng.uniform(0.5, 2.0))
    upper = [p for p in pitches if p >= root + 12]
    while t < seconds:
        length = float(rng.uniform(0.6, 4.0))
        notes.append(Note(t, t + length, int(rng.choice(upper)), velocity(rng)))
        t += length + float(rng.uniform(0.0, 2.5))
    return notes


def piece(kind: str, rng: np.random.Generator, seconds: float, seed_file: Path) -> list[Note]:
    if kind == "chorale":
        notes = chorale(rng)
    elif kind == "seed":
        notes = read_midi(seed_file)
    else:
        notes = {"chords": chords, "arpeggio": arpeggio, "drone-melody": drone_melody}[kind](rng, seconds)
    if kind in ("chorale", "seed"):  # another key and register than the score's own
        shift = int(rng.integers(-7, 8))
        notes = [Note(n.start, n.end, n.pitch + shift, n.velocity) for n in notes]
    return [Note(n.start, min(n.end, seconds), n.pitch, n.velocity) for n in notes
            if n.start < seconds - 0.1 and 21 <= n.pitch <= 108 and min(n.end, seconds) > n.start]


@dataclass
class Clip:
    split: str
    timbre: str
    reverb: str
    kind: str
    reference: list[Note]
    mp3: Path
    activations: Path

    @property
    def condition(self) -> str:
        return f"{self.timbre}+{self.reverb}"

    def audio(self) -> np.ndarray:
        return decode(self.mp3)

    def posteriors(self) -> dict:
        with np.load(self.activations) as z:
            post = {k: z[k].astype(np.float32) for k in ("note", "onset", "times")}
        # basic-pitch reads only the contour's frame count when pitch bends are off; it is not cached
        post["contour"] = np.zeros((len(post["times"]), 0), np.float32)
        return post


def clips(cache: Path, split: str, seconds: float = 30.0, per_condition: int = 5, model=None,
          on_clip=None) -> list[Clip]:
    """Every clip of a split, rendered and run through the model once and then read from `cache`."""
    cache.mkdir(parents=True, exist_ok=True)
    seeds = seed_paths()
    out = []
    for c, (timbre, reverb) in enumerate(SPLITS[split]):
        for i in range(per_condition):
            kind = KINDS[(i + c) % len(KINDS)]
            # tuning and held-out draw different pieces: the split is part of the seed
            rng_seed = [SPLIT_SEEDS[split], c, i]
            key = hashlib.sha1(json.dumps([VERSION, split, repr(TIMBRES[timbre]), reverb, kind, rng_seed, seconds])
                               .encode()).hexdigest()[:12]
            stem = cache / f"{split}-{timbre}-{reverb}-{i}-{key}"
            seed_file = seeds[(i + 4 * SPLIT_SEEDS[split]) % len(seeds)]
            reference = piece(kind, np.random.default_rng(rng_seed), seconds, seed_file)
            clip = Clip(split, timbre, reverb, kind, reference, stem.with_suffix(".mp3"), stem.with_suffix(".npz"))
            if not clip.activations.exists():
                make_clip(clip, seconds, int(key, 16) % 2**31, model)
            out.append(clip)
            if on_clip:
                on_clip(clip)
    return out


def make_clip(clip: Clip, seconds: float, seed: int, model) -> None:
    stereo = REVERBS[clip.reverb](TIMBRES[clip.timbre].play(clip.reference, seconds, seed).astype(np.float64))
    stereo *= 10 ** (-1 / 20) / max(float(np.abs(stereo).max()), 1e-9)
    sf.write(clip.mp3, stereo.T.astype(np.float32), RATE, format="MP3")
    post = model.posteriors(decode(clip.mp3))
    np.savez(clip.activations, note=post["note"].astype(np.float16), onset=post["onset"].astype(np.float16),
             times=post["times"])
