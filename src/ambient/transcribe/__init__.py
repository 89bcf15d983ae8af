"""Audio to notes: basic-pitch's bundled ONNX model, then clean-up for ambient sound.

Off-the-shelf note creation looks for sharp onsets. Ambient records are slow swells
under long reverb, so it finds few onsets, breaks held notes into fragments and keeps
reverb tails and harmonics as notes. `AmbientCleanup` works from the frame activations
instead: hysteresis per pitch (a note starts above `frame_high` and lasts while above
`frame_low`), short gaps merged, the end placed where the activation falls below a
fraction of the note's own peak (the reverb tail is not the note), re-strikes split at
onset peaks, harmonic echoes of a louder note dropped, velocity from the mix's level.

A transcriber is any object with `name`, `settings()` and `notes(model, posteriors, audio)`;
the name and settings go into every MIDI file written.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ambient.audio import decode
from ambient.errors import AmbientError
from ambient.midi import write_midi
from ambient.notes import Note
from ambient.transcribe.basic_pitch import BasicPitchDefaults, BasicPitchModel
from ambient.transcribe.cleanup import AmbientCleanup

TRANSCRIBERS = {"ambient": AmbientCleanup, "basic-pitch": BasicPitchDefaults}


def transcribe_audio(audio: np.ndarray, method=None, model: BasicPitchModel | None = None) -> list[Note]:
    """Notes in mono audio at the transcriber's rate."""
    method = method or AmbientCleanup()
    model = model or BasicPitchModel()
    if not audio.size or float(np.abs(audio).max()) < 1e-4:
        return []
    return method.notes(model, model.posteriors(audio), audio)


def transcribe_file(path: str | Path, out: str | Path, method=None, model: BasicPitchModel | None = None) -> list[Note]:
    """Transcribe one audio file into a MIDI file that records how it was made."""
    method = method or AmbientCleanup()
    notes = transcribe_audio(decode(path), method, model)
    if not notes:
        raise AmbientError(f"{path}: no notes found (silence, or nothing pitched)")
    write_midi(out, notes, text=json.dumps({"transcriber": method.name, "settings": method.settings(),
                                            "source": Path(path).name}, sort_keys=True))
    return notes
