"""The sampling controls as CLI options, shared by `generate`, `eval` and (later) `stream`."""

from __future__ import annotations

import math

import typer

from ambient.controls import Controls
from ambient.errors import ParameterError

CONTROL_OPTIONS = {
    "scale": typer.Option(None, "--scale", help="auto (from the primer), a scale like 'D dorian', or none."),
    "scale_strength": typer.Option(math.inf, help="Nats taken from out-of-scale notes (inf: never played)."),
    "pitch_range": typer.Option(None, "--range", help="Pitch range LOW-HIGH in MIDI numbers, e.g. 36-84."),
    "density": typer.Option(None, help="Notes per second to hold (e.g. 1.5), or auto: the primer's."),
    "max_polyphony": typer.Option(None, help="Most notes sounding at once."),
    "key_pull": typer.Option(None, help="Lean toward the primer's pitch-class profile, in nats (0: off; "
                             "default 0.5 with --scale auto, else off)."),
    "max_hold": typer.Option(None, help="End notes held longer than this many seconds (auto: from the primer)."),
}


def _seconds_or_auto(name: str, value: str | None) -> float | str | None:
    if value is None or value == "auto":
        return value
    try:
        return float(value)
    except ValueError:
        raise ParameterError(name, f"must be auto or a number, got {value!r}") from None


def controls_from(scale: str | None, scale_strength: float, pitch_range: str | None, density: str | None,
                  max_polyphony: int | None, key_pull: float | None = None, max_hold: str | None = None) -> Controls:
    if scale is not None and scale.strip().lower() == "none":
        scale = None
    bounds = None
    if pitch_range is not None:
        low, dash, high = pitch_range.partition("-")
        if not (dash and low.strip().isdigit() and high.strip().isdigit()):
            raise ParameterError("pitch_range", f"must be LOW-HIGH like 36-84, got {pitch_range!r}")
        bounds = (int(low), int(high))
    controls = Controls(scale=scale, scale_strength=scale_strength, pitch_range=bounds,
                        density=_seconds_or_auto("density", density), max_polyphony=max_polyphony,
                        key_pull=key_pull, max_hold=_seconds_or_auto("max_hold", max_hold))
    controls.check()
    return controls
