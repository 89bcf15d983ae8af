"""A tempo and bar grid laid under transcribed notes, for a person opening the MIDI in a DAW.

The notes are never moved: their times in seconds stay exactly as transcribed (the model
trains on those). Only the file's tempo map changes, so that the DAW's beats fall on the
music's beats: one tempo from the file's start to the first beat (a whole number of
beats long), then the estimated tempo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ambient.errors import ParameterError
from ambient.notes import Note

SLOWEST, FASTEST = 30.0, 240.0  # beats per minute a grid may have


@dataclass(frozen=True)
class BeatGrid:
    bpm: float
    first_beat: float  # seconds

    def tempo_map(self) -> list[tuple[int, float]]:
        """(beat index where it starts, beats per minute): a lead-in, then the tempo."""
        if self.first_beat < 0.05:  # the music starts on the grid's first beat
            return [(0, self.bpm)]
        lead_in = max(1, round(self.first_beat * self.bpm / 60.0))
        return [(0, 60.0 * lead_in / self.first_beat), (lead_in, self.bpm)]

    def beats_at(self, seconds: float) -> float:
        """The position of a time on this grid, in beats."""
        (_, lead_bpm), *rest = self.tempo_map()
        if not rest:
            return seconds * self.bpm / 60.0
        lead_in = rest[0][0]
        if seconds < self.first_beat:
            return seconds * lead_bpm / 60.0
        return lead_in + (seconds - self.first_beat) * self.bpm / 60.0


def parse_tempo(tempo: str | float) -> float | None:
    """None for "auto", else beats per minute within the grid's range."""
    if isinstance(tempo, str) and tempo.strip().lower() == "auto":
        return None
    try:
        bpm = float(tempo)
    except ValueError:
        raise ParameterError("tempo", f"must be auto or beats per minute, not {tempo!r}") from None
    if not SLOWEST <= bpm <= FASTEST:
        raise ParameterError("tempo", f"must be {SLOWEST:g}-{FASTEST:g} beats per minute, got {bpm:g}")
    return bpm


def beat_grid(audio: np.ndarray, rate: int, notes: list[Note], tempo: str | float = "auto") -> BeatGrid:
    """The grid for a transcription: the tempo given or estimated from the audio, the first
    beat on the first beat the tracker finds (or, with a tempo given, the first note)."""
    bpm = parse_tempo(tempo)
    if bpm is not None:
        return BeatGrid(bpm, min((n.start for n in notes), default=0.0))
    import librosa

    estimate, beats = librosa.beat.beat_track(y=audio.astype(np.float32), sr=rate, hop_length=512, units="time")
    estimate = float(np.atleast_1d(estimate)[0])
    while estimate and estimate < SLOWEST:  # a slow drift reads as half or quarter time
        estimate *= 2
    while estimate > FASTEST:
        estimate /= 2
    if not estimate or len(beats) < 2:  # nothing pulses (a drone): a plain slow grid from the first note
        return BeatGrid(60.0, min((n.start for n in notes), default=0.0))
    return BeatGrid(estimate, float(beats[0]))
