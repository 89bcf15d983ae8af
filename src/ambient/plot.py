"""Pictures to check music by eye: a piano roll for MIDI, a spectrogram for audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ambient.errors import AmbientError
from ambient.notes import Note, piece_end


def _figure(title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 4.5), dpi=100)
    ax.set_title(title)
    return plt, fig, ax


NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
PRIMER, CONTINUATION, BOUNDARY = "#6f8fd8", "#e8b04a", "#2a9d80"   # the studio's roll uses the same three


def pitch_name(pitch: int) -> str:
    """MIDI pitch to its name, middle C (60) as C4."""
    return f"{NAMES[pitch % 12]}{pitch // 12 - 1}"


def piano_roll(notes: list[Note], path: str | Path, title: str = "", primer_end: float | None = None) -> Path:
    """One bar per note: seconds across, pitch up (every C named), stronger for louder; the same
    picture the studio draws. With `primer_end`, the primer's notes are blue and the
    continuation's amber, either side of a labelled line."""
    if not notes:
        raise AmbientError(f"{title or path}: no notes to draw")
    plt, fig, ax = _figure(title)
    for n in notes:
        colour = CONTINUATION if primer_end is not None and n.start >= primer_end else PRIMER
        ax.add_patch(plt.Rectangle((n.start, n.pitch - 0.4), n.duration, 0.8, color=colour,
                                   alpha=0.45 + 0.55 * n.velocity / 127, linewidth=0))
    low, high = min(n.pitch for n in notes), max(n.pitch for n in notes)
    ax.set_xlim(0, piece_end(notes))
    ax.set_ylim(low - 2, high + 2)
    cs = [p for p in range(low - 1, high + 2) if p % 12 == 0] or [low, high]
    ax.set_yticks(cs, [pitch_name(p) for p in cs])
    ax.grid(axis="y", alpha=0.25)
    if primer_end is not None:
        ax.axvline(primer_end, color=BOUNDARY, linewidth=1.2)
        top = high + 1.5
        ax.text(primer_end, top, "primer ", ha="right", va="center", color=BOUNDARY)
        ax.text(primer_end, top, " continuation", ha="left", va="center", color=BOUNDARY)
    ax.set_xlabel("seconds")
    ax.set_ylabel("pitch")
    return _save(plt, fig, path)


def spectrogram(audio: np.ndarray, rate: int, path: str | Path, title: str = "") -> Path:
    """Log-frequency power over time of the mono mix, in dB."""
    mono = audio.mean(axis=0)
    if not mono.size:
        raise AmbientError(f"{title or path}: no audio to draw")
    plt, fig, ax = _figure(title)
    window = 4096
    hop = max(window // 4, len(mono) // 2000)  # at most about 2000 columns, whatever the length
    frames = max(1, 1 + (len(mono) - window) // hop)
    padded = np.pad(mono, (0, max(0, window - len(mono))))
    index = np.arange(window)[None, :] + hop * np.arange(frames)[:, None]
    power = np.abs(np.fft.rfft(padded[index] * np.hanning(window), axis=1)) ** 2
    db = 10 * np.log10(power.T + 1e-10)
    freqs = np.fft.rfftfreq(window, 1 / rate)
    times = np.arange(frames) * hop / rate
    ax.pcolormesh(times, freqs[1:], db[1:], shading="auto", cmap="magma", vmin=db.max() - 90, vmax=db.max())
    ax.set_yscale("log")
    ax.set_ylim(30, rate / 2)
    ax.set_xlabel("seconds")
    ax.set_ylabel("Hz")
    return _save(plt, fig, path)


def _save(plt, fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
