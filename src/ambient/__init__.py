"""ambient: learn ambient music from a collection and generate new pieces you can hear.

One import for each job:

    from ambient import load_model, generate, read_midi, write_midi, encode, decode
    from ambient.render import render          # MIDI notes to an audio file
    from ambient.transcribe import transcribe_file
    from ambient.pipeline import Workspace, run
"""

from ambient.checkpoint import load_model, save_model_dir
from ambient.codec import decode, encode
from ambient.errors import AmbientError
from ambient.generate import Sampling, generate
from ambient.midi import read_midi, write_midi
from ambient.notes import Note

__all__ = ["AmbientError", "Note", "Sampling", "decode", "encode", "generate", "load_model", "read_midi",
           "save_model_dir", "write_midi"]
