"""ambient: learn ambient music from a collection and generate new pieces you can hear.

The public API, one import for each job (each name is loaded on first use, so
`import ambient` costs nothing until a name is touched, and never imports torch):

    from ambient import load_model, continue_piece, read_midi, write_midi, encode, decode
    from ambient.render import render          # MIDI notes to an audio file
    from ambient.transcribe import transcribe_file
    from ambient.pipeline import Workspace, run

`ambient.render`, `ambient.transcribe`, `ambient.pipeline` and `ambient.train` are
modules; no name exported here is also the name of a module, so nothing shadows.
"""

from __future__ import annotations

from ambient.extras import exports

_EXPORTS = {
    "AmbientError": "ambient.errors",
    "ParameterError": "ambient.errors",
    "Note": "ambient.notes",
    "ModelConfig": "ambient.config",
    "TrainConfig": "ambient.config",
    "Sampling": "ambient.config",
    "encode": "ambient.codec",
    "decode": "ambient.codec",
    "read_midi": "ambient.midi",
    "write_midi": "ambient.midi",
    "load_model": "ambient.checkpoint",
    "save_model_dir": "ambient.checkpoint",
    "continue_piece": "ambient.sampling",
    "continue_tokens": "ambient.sampling",
}

__all__ = sorted(_EXPORTS)
__getattr__ = exports(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
