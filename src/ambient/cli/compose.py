"""Writing ambient pieces from rules: `compose`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ambient.cli.output import say


def compose_command(
    output: Path = typer.Option(Path("composed.mid"), "--output", "-o", help="MIDI file to write."),
    families: str = typer.Option("drone,pad,loops", "--families", "-f",
                                 help="Layers, comma-separated: drone, pad, loops, ostinato, melody, swell."),
    key: str = typer.Option("D", help="Tonic: a note name (C, F#, Bb)."),
    mode: str = typer.Option("dorian", help="ionian, dorian, phrygian, lydian, mixolydian, aeolian, "
                                            "major-pentatonic, minor-pentatonic, in-sen."),
    seconds: float = typer.Option(120.0, help="Length of the piece."),
    density: float = typer.Option(1.0, help="Notes a second of the moving layers (0.2-15)."),
    opening: float = typer.Option(0.0, help="Seconds over which the layers after the first enter, one by one "
                                            "(0: all from the start)."),
    seed: int = typer.Option(0, help="Random seed; the same seed gives the same piece."),
    heard: Optional[float] = typer.Option(None, help="Write it as a piano transcription would hear it, re-striking "
                                                     "held notes about every this many seconds."),
    render: Optional[str] = typer.Option(None, "--render", "-r", help="Also render through this instrument."),
):
    """Compose an ambient piece from rules (drones, modal pads, phasing loops) in any key and mode."""
    from ambient.compose import Hearing, Recipe, as_heard, compose, key_number
    from ambient.midi import write_midi

    if render is not None:
        from ambient.render import preset

        preset(render)  # an unknown instrument fails before anything is written
    recipe = Recipe(families=tuple(f.strip() for f in families.split(",") if f.strip()), key=key_number(key),
                    mode=mode.strip().lower(), seconds=seconds, density=density, opening=opening)
    notes = compose(recipe, seed)
    if heard is not None:
        notes = as_heard(notes, Hearing(restrike=heard), seed)
    write_midi(output, notes)
    say(f"{output}: {len(notes)} notes, {seconds:g} s, {'+'.join(recipe.families)} in {key} {recipe.mode}")
    if render is not None:
        from ambient.cli.music import render_and_report

        render_and_report(notes, output.with_suffix(".wav"), render, seed=seed)


def register(app: typer.Typer) -> None:
    app.command("compose")(compose_command)
