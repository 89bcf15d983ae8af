"""A trial, on the tuning set only, of ending plucked notes where the pitch's own sound falls.

The pluck profile ends a note where the model's activation gives way (the knee). A string
in a dry room or a small one keeps sounding, and decaying at its own slow rate (5-15 dB/s),
until it is let go, when its energy falls far faster; the activation has given way long
before. This trial measures each pitch's energy in the audio (the band of half a semitone
either side of its fundamental), and moves a note's end later, to the first fall of `drop`
dB within `span` seconds after `settle` seconds into the note, never past where the
activation itself fell for good (the knee switched off) or the pitch is struck again. In a hall a narrow band's tail
fades and swells at random, so files whose room falls less than `gate` dB in half a second
(`sound.room_fall`) keep the profile's ends. Not part of the transcriber: the figures say
whether it is worth building.

    python benchmarks/transcription_envelope_trial.py [--gate 28] [--drop 10] [--span 0.3]
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from transcription import METRICS, note_scores  # noqa: E402
from transcription_corpus import TIMBRES, clips  # noqa: E402

from ambient.audio import TRANSCRIBER_RATE  # noqa: E402
from ambient.notes import Note  # noqa: E402
from ambient.transcribe.cleanup import LOWEST_PITCH, PROFILES, held_regions, note_end  # noqa: E402
from ambient.transcribe.sound import room_fall, spectra  # noqa: E402

ROOT = Path(__file__).parents[1]
HOP, N_FFT = 256, 4096  # the model's own frame rate at 22050 Hz; 5.4 Hz bins


def pitch_energy(audio: np.ndarray, rate: int) -> np.ndarray:
    """(frames, 88) dB: each piano key's fundamental band, half a semitone either side."""
    power = np.concatenate([m ** 2 for m in spectra(audio, HOP, N_FFT)])
    freqs = np.fft.rfftfreq(N_FFT, 1 / rate)
    out = np.zeros((len(power), 88), np.float32)
    for b in range(88):
        f0 = 440.0 * 2 ** ((b + LOWEST_PITCH - 69) / 12)
        band = np.abs(np.log2(np.maximum(freqs, 1e-9) / f0)) < 0.5 / 12
        if not band.any():
            band = np.abs(freqs - f0) == np.abs(freqs - f0).min()
        out[:, b] = 10 * np.log10(power[:, band].sum(axis=1) + 1e-12)
    return out


def later_ends(notes: list[Note], post: dict, energy: np.ndarray, settings, drop: float, span: float,
               settle: float) -> list[Note]:
    fps = 1 / float(np.median(np.diff(post["times"])))
    s = settings.for_file(post["note"])
    plain = replace(s, knee_ratio=0.0)
    w = max(1, int(round(span * fps)))
    out = []
    for i, n in enumerate(notes):
        b, start = n.pitch - LOWEST_PITCH, int(round(n.start * fps))
        following = [m.start for m in notes[i + 1:] if m.pitch == n.pitch and m.start > n.start]
        act = post["note"][:, b]
        region = next(((a, e) for a, e in held_regions(act, s, fps) if a <= start + int(0.2 * fps) < e), None)
        if region is None:
            out.append(n)
            continue
        cross = note_end(act, max(start, region[0]), region[1], plain, fps)
        if following:  # a re-strike of the same pitch ends this note at the latest
            cross = min(cross, int(round(min(following) * fps)))
        lo, hi = start + int(round(settle * fps)), min(cross, len(energy) - w)
        end = int(round(n.end * fps))
        if hi > lo:
            falls = energy[lo + w:hi + w, b] - energy[lo:hi, b]
            steep = np.flatnonzero(falls < -drop)
            if steep.size:
                end = max(end, min(lo + int(steep[0]), cross))
        out.append(Note(n.start, max(n.end, end / fps), n.pitch, n.velocity))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gate", type=float, default=28.0, help="dB in half a second; quieter falls: a hall")
    parser.add_argument("--drop", type=float, default=10.0)
    parser.add_argument("--span", type=float, default=0.3)
    parser.add_argument("--settle", type=float, default=0.3)
    parser.add_argument("--cache", type=Path, default=ROOT / "runs" / "transcription-benchmark")
    args = parser.parse_args()
    pluck = PROFILES["pluck"]
    before: dict[str, list] = {}
    after: dict[str, list] = {}
    for c in clips(args.cache, "tuning", 30.0, 10):
        if TIMBRES[c.timbre].kind != "plucked":
            continue
        audio, post = c.audio(), c.posteriors()
        notes = pluck.notes(None, post, audio)
        moved = notes
        if room_fall(audio, TRANSCRIBER_RATE) >= args.gate:
            settings = pluck.for_room(audio, TRANSCRIBER_RATE)
            moved = later_ends(notes, post, pitch_energy(audio, TRANSCRIBER_RATE), settings, args.drop, args.span,
                               args.settle)
        for table, est in ((before, notes), (after, moved)):
            r = note_scores(c.reference, est, 30.0)
            table.setdefault(c.condition, []).append([r[k] for k in METRICS])
    print(f"condition | {' | '.join(METRICS)} (profile -> trial) | mean of the four, change")
    changes = []
    for cond in before:
        a, b = np.mean(before[cond], axis=0), np.mean(after[cond], axis=0)
        changes.append(b.mean() - a.mean())
        print(f"{cond:30s} " + " ".join(f"{x:.3f}->{y:.3f}" for x, y in zip(a, b)) + f"  {changes[-1]:+.4f}")
    print(f"mean change {np.mean(changes):+.4f}, worst {min(changes):+.4f}")


if __name__ == "__main__":
    main()
