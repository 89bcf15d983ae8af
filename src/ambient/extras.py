"""Which optional extra brings which module, and one line saying so when it is missing.

A base `pip install ambient` generates, trains and evaluates; audio, the studio, Ray and
transcription come with extras (pyproject.toml). Code that needs one imports it late,
and a missing module reaches the user as `ambient render needs soundfile: pip install
'ambient[render]'` instead of a traceback.
"""

from __future__ import annotations

import importlib
import sys

from ambient.errors import AmbientError

EXTRAS = {
    "soundfile": "render", "soxr": "render", "pedalboard": "render", "scipy": "render", "matplotlib": "render",
    "fluidsynth": "render", "onnxruntime": "transcribe", "librosa": "transcribe", "resampy": "transcribe",
    "basic_pitch": "transcribe", "fastapi": "studio", "uvicorn": "studio", "ray": "ray", "fsspec": "ray",
    "music21": "corpus", "mido": "live", "rtmidi": "live", "pythonosc": "live", "sounddevice": "live",
}


def missing(error: ModuleNotFoundError, what: str = "this") -> AmbientError | None:
    """The one-line error for a missing optional module, or None when it is not one of ours."""
    name = (error.name or "").split(".")[0]
    if name not in EXTRAS:
        return None
    extra = EXTRAS[name]
    return AmbientError(f"{what} needs {name}, from the {extra!r} extra: pip install 'ambient[{extra}]'")


def require(name: str, what: str = "this"):
    """Import an optional module now, or raise the one-line error naming its extra."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        raise (missing(e, what) or e) from None


def exports(package: str, names: dict[str, str]):
    """A package's `__getattr__` that imports each public name from its module on first use
    (`names`: name -> module), so importing the package costs nothing until a name is touched."""

    def load(name: str):
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(names[name]), name)
        setattr(sys.modules[package], name, value)   # the next lookup is a plain attribute
        return value

    return load


class lazy:
    """A module imported on first use (`sf = lazy("soundfile")`), so importing a layer that can
    use it costs nothing and needs nothing until then."""

    def __init__(self, name: str, what: str = "this"):
        self._name, self._what = name, what

    def __getattr__(self, attribute: str):
        return getattr(require(self._name, self._what), attribute)
