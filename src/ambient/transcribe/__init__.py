"""Audio to notes: basic-pitch's bundled ONNX model, then clean-up for ambient sound.

Off-the-shelf note creation looks for sharp onsets. Ambient records are slow swells
under long reverb, so it finds few onsets, breaks held notes into fragments and keeps
reverb tails and harmonics as notes. `AmbientCleanup` works from the frame activations
instead: hysteresis per pitch (a note starts above `frame_high` and lasts while above
`frame_low`, both lowered on files the model hears less surely), short gaps merged, the
end placed where the note's held level first gave way (the reverb tail is not the note),
re-strikes split at onset peaks, echoes of a louder note's partials dropped, velocity
from the mix's level. A soft note that never reaches `frame_high` may still count, if the
model saw it struck and no louder pitch explains it (`cleanup.quiet_regions`).

Two profiles of that clean-up were chosen on a benchmark's tuning set: `pluck` for sharp
attacks that decay, `pad` for swells; `auto` (the default) picks one per file from how
impulsive its attacks are (`sound.choose_profile`). In a dry room (`sound.room_fall`) the
pluck profile lets a note fall further before it ends: no reverb tail follows it there;
outside halls it ends a decaying note where its pitch's own sound falls as a string let go
does (`cleanup.release_end`). The presets live in `profiles.py`.

A transcriber is any object with `name`, `settings()` and `notes(model, posteriors, audio)`;
one with `resolve(audio, rate)` first becomes the concrete settings for that file. The
name and settings go into every MIDI file written. `transcribe_files` is the batch
front door: it names each output and lets a bad file fail alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ambient.audio import TRANSCRIBER_RATE, decode
from ambient.errors import AmbientError, ParameterError
from ambient.midi import write_midi
from ambient.notes import Note
from ambient.transcribe.basic_pitch import BasicPitchDefaults, BasicPitchModel
from ambient.transcribe.cleanup import SETTINGS, AmbientCleanup
from ambient.transcribe.grid import beat_grid, parse_tempo
from ambient.transcribe.profiles import PROFILES, AutoCleanup

TRANSCRIBERS = {"ambient": AutoCleanup, "basic-pitch": BasicPitchDefaults}
MIDI_SUFFIXES = (".mid", ".midi")
SHORTEST = 0.1  # seconds of audio: the shortest note any profile keeps (`min_note`)


def transcriber(method: str = "ambient", profile: str = "auto", **settings):
    """A transcriber by name. `ambient` takes a profile (auto, pluck or pad) and any of
    `AmbientCleanup`'s fields on top of it; `basic-pitch` takes neither."""
    if method not in TRANSCRIBERS:
        raise ParameterError("method", f"must be one of {', '.join(TRANSCRIBERS)}, not {method!r}")
    if method == "basic-pitch":
        if settings or profile != "auto":
            raise ParameterError("method", "basic-pitch runs at its own defaults; profiles and "
                                 f"settings ({', '.join(sorted(settings)) or 'profile'}) are for the ambient method")
        return BasicPitchDefaults()
    if profile not in ("auto", *PROFILES):
        raise ParameterError("profile", f"must be auto, {' or '.join(PROFILES)}, not {profile!r}")
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ParameterError(unknown[0], f"not a clean-up setting (choose from {', '.join(sorted(SETTINGS))})")
    for key, value in settings.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParameterError(key, f"must be a number, not {value!r}")
    return AutoCleanup(profile, tuple(sorted((k, float(v)) for k, v in settings.items())))


def output_path(source: str | Path, output: str | Path | None, several: bool = False) -> Path:
    """Where a source's MIDI goes: beside it, at `output` (a .mid file), or inside `output` (a folder)."""
    source = Path(source)
    if output is None:
        return source.with_suffix(".mid")
    output = Path(output)
    if output.suffix.lower() in MIDI_SUFFIXES:
        if several:
            raise AmbientError(f"{output}: give a folder as the output when transcribing several files")
        return output
    return output / f"{source.stem}.mid"


@dataclass
class TranscriptionReport:
    written: list[tuple[Path, Path, int]] = field(default_factory=list)  # (source, MIDI, notes)
    failed: list[tuple[Path, str]] = field(default_factory=list)         # (source, one-line reason)


def transcribe_audio(audio: np.ndarray, method=None, model: BasicPitchModel | None = None) -> list[Note]:
    """Notes in mono audio at the transcriber's rate."""
    method = method or AutoCleanup()
    model = model or BasicPitchModel()
    if len(audio) < SHORTEST * TRANSCRIBER_RATE or float(np.abs(audio).max()) < 1e-4:
        return []  # too short for a note (or for one of the model's frames), or silent
    return method.notes(model, model.posteriors(audio), audio)


def transcribe_file(path: str | Path, out: str | Path, method=None, model: BasicPitchModel | None = None,
                    tempo: str | float | None = None) -> list[Note]:
    """Transcribe one audio file into a MIDI file that records how it was made.

    `tempo` ("auto", or beats per minute) only lays a bar grid under the notes for a DAW:
    the notes keep their exact times."""
    method = method or AutoCleanup()
    audio = decode(path)
    if len(audio) < SHORTEST * TRANSCRIBER_RATE:
        raise AmbientError(f"{path}: too short to transcribe ({len(audio) / TRANSCRIBER_RATE:.3f} s of audio; "
                           f"a note needs {SHORTEST} s)")
    if hasattr(method, "resolve"):  # the settings this file gets are the ones recorded
        method = method.resolve(audio, TRANSCRIBER_RATE)
    notes = transcribe_audio(audio, method, model)
    if not notes:
        raise AmbientError(f"{path}: no notes found (silence, or nothing pitched)")
    grid = None if tempo is None else beat_grid(audio, TRANSCRIBER_RATE, notes, tempo)
    made = {"transcriber": method.name, "settings": method.settings(), "source": Path(path).name}
    if grid is not None:
        made["tempo"] = {"bpm": round(grid.bpm, 2), "first_beat": round(grid.first_beat, 3)}
    write_midi(out, notes, text=json.dumps(made, sort_keys=True), grid=grid)
    return notes


def transcribe_files(sources: list[str | Path], output: str | Path | None = None, method=None,
                     model: BasicPitchModel | None = None, on_file=None,
                     tempo: str | float | None = None) -> TranscriptionReport:
    """Transcribe several files; a bad one is reported and the others still written."""
    sources = [Path(s) for s in sources]
    targets = [output_path(s, output, several=len(sources) > 1) for s in sources]  # before any work
    if tempo is not None:
        parse_tempo(tempo)  # so is a tempo it could not use
    model = model or BasicPitchModel()
    report = TranscriptionReport()
    for source, target in zip(sources, targets):
        try:
            notes = transcribe_file(source, target, method, model, tempo)
        except AmbientError as e:
            report.failed.append((source, str(e)))
        else:
            report.written.append((source, target, len(notes)))
        if on_file:
            on_file(source)
    return report


__all__ = ["PROFILES", "TRANSCRIBERS", "AmbientCleanup", "AutoCleanup", "BasicPitchDefaults", "BasicPitchModel", "TranscriptionReport",
           "output_path", "transcribe_audio", "transcribe_file", "transcribe_files", "transcriber"]
