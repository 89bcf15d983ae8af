"""The sampling controls as CLI options, shared by `generate` and `eval` (`stream` takes a few of them).

`takes_controls` gives a command every control as an option and hands it one `Controls`,
checked before the command runs, so no command lists the options or builds the object itself.
"""

from __future__ import annotations

import functools
import inspect
import math
from typing import Optional

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
CONTROL_TYPES = {"scale": Optional[str], "scale_strength": float, "pitch_range": Optional[str],
                 "density": Optional[str], "max_polyphony": Optional[int], "key_pull": Optional[float],
                 "max_hold": Optional[str]}


def takes_controls(scale=CONTROL_OPTIONS["scale"]):
    """Decorate a command whose last parameter is `controls`: the CLI shows every control as an
    option instead (`scale` may be a command's own, with its own default) and the command gets
    them as one `ambient.controls.Controls`."""
    options = {**CONTROL_OPTIONS, "scale": scale}

    def decorate(command):
        own = [p for p in inspect.signature(command).parameters.values() if p.name != "controls"]
        added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option,
                                   annotation=CONTROL_TYPES[name]) for name, option in options.items()]

        @functools.wraps(command)
        def run(**kwargs):
            from ambient.controls import controls_from

            words = {name: kwargs.pop(name) for name in options}
            return command(**kwargs, controls=controls_from(**words))

        run.__signature__ = inspect.Signature(own + added)
        run.__annotations__ = {**{k: v for k, v in command.__annotations__.items() if k != "controls"},
                               **CONTROL_TYPES}
        return run

    return decorate
