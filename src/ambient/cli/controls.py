"""The sampling controls as CLI options, shared by `generate`, `eval` and (later) `stream`."""

from __future__ import annotations

import math

import typer


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
