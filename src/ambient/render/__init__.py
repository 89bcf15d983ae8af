"""Rendering MIDI to audio: synthesised ambient instruments, effects, loudness, SoundFonts."""

from ambient.render.engine import PEAK_DBFS, RATE, TARGET_LUFS, RenderReport, render, render_length
from ambient.render.presets import PRESETS, preset

__all__ = ["PEAK_DBFS", "PRESETS", "RATE", "TARGET_LUFS", "RenderReport", "preset", "render", "render_length"]
