"""The one in-memory note representation that every layer shares.

A note is a start and end in seconds, a MIDI pitch, a MIDI velocity (1-127) and a
General MIDI program. A piece is a plain list of notes sorted by (start, pitch).
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Note:
    start: float
    end: float
    pitch: int
    velocity: int
    program: int = 0

    @property
    def duration(self) -> float:
        return self.end - self.start


def sort_notes(notes: list[Note]) -> list[Note]:
    return sorted(notes, key=lambda n: (n.start, n.pitch, n.end))


def piece_end(notes: list[Note]) -> float:
    """Seconds until the last note stops sounding (0 for an empty piece)."""
    return max((n.end for n in notes), default=0.0)


def shift(notes: list[Note], seconds: float) -> list[Note]:
    return [replace(n, start=n.start + seconds, end=n.end + seconds) for n in notes]


def stretch(notes: list[Note], factor: float) -> list[Note]:
    """Scale every time by `factor` (2.0 plays twice as slow)."""
    return [replace(n, start=n.start * factor, end=n.end * factor) for n in notes]


def transpose(notes: list[Note], semitones: int) -> list[Note]:
    """Move every pitch; notes pushed outside 0-127 are dropped, not wrapped."""
    return [replace(n, pitch=n.pitch + semitones) for n in notes if 0 <= n.pitch + semitones <= 127]
