"""A SoundFont as the voices of a render, played by FluidSynth (pyfluidsynth)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ambient.errors import AmbientError, ParameterError
from ambient.notes import Note


def _fluidsynth():
    try:
        import fluidsynth
    except ImportError:
        raise AmbientError("SoundFont rendering needs FluidSynth: pip install pyfluidsynth, and the library "
                           "(apt-get install libfluidsynth3)") from None
    except OSError as e:  # pyfluidsynth is there but libfluidsynth is not
        raise AmbientError(f"SoundFont rendering needs the FluidSynth library (apt-get install libfluidsynth3): {e}") from None
    return fluidsynth


class SoundFontVoices:
    """Renders notes through one SoundFont program, block after block, in order."""

    def __init__(self, notes: list[Note], soundfont: str | Path, program: int, rate: int):
        soundfont = Path(soundfont)
        if not soundfont.is_file():
            raise AmbientError(f"{soundfont}: no such SoundFont")
        if not 0 <= program <= 127:
            raise ParameterError("program", f"must be 0-127, got {program}")
        fluidsynth = _fluidsynth()
        self.synth = fluidsynth.Synth(samplerate=float(rate))
        sfid = self.synth.sfload(str(soundfont))
        if sfid == -1:
            raise AmbientError(f"{soundfont}: not a SoundFont FluidSynth can load")
        self.synth.program_select(0, sfid, 0, program)
        events = [(round(n.start * rate), 1, n.pitch, n.velocity) for n in notes]
        events += [(round(n.end * rate), 0, n.pitch, 0) for n in notes]
        self.events = sorted(events)  # at one instant, note-offs first
        self.next_event = 0
        self.rendered = 0

    def block(self, start: int, length: int) -> np.ndarray:
        if start != self.rendered:
            raise ValueError("SoundFont voices render blocks in order")
        out = np.zeros((2, length), dtype=np.float32)
        cursor = start
        while True:
            at = self.events[self.next_event][0] if self.next_event < len(self.events) else start + length
            at = min(max(at, cursor), start + length)
            if at > cursor:
                out[:, cursor - start:at - start] = self._samples(at - cursor)
                cursor = at
            if cursor >= start + length or self.next_event >= len(self.events):
                if cursor < start + length:
                    out[:, cursor - start:] = self._samples(start + length - cursor)
                break
            _, on, pitch, velocity = self.events[self.next_event]
            if on:
                self.synth.noteon(0, pitch, velocity)
            else:
                self.synth.noteoff(0, pitch)
            self.next_event += 1
        self.rendered = start + length
        return out

    def _samples(self, n: int) -> np.ndarray:
        stereo = np.asarray(self.synth.get_samples(n), dtype=np.float32).reshape(-1, 2).T
        return stereo / 32768.0
