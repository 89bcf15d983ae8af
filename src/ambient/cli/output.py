"""What the CLI prints: the console, progress bars, one-line errors and reports.

Everything a user reads on stderr goes through here, so errors look the same from
every command: `error: FILE: PROBLEM`, one line, no traceback.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

console = Console(stderr=True)


def progress(label_width: int | None = None, eta: bool = True) -> Progress:
    """A progress bar on stderr that shows only on a terminal and vanishes when done."""
    label = TextColumn("{task.description}" if label_width is None else f"{{task.description:<{label_width}}}")
    columns = [label, BarColumn(), MofNCompleteColumn()] + ([TimeRemainingColumn()] if eta else [])
    return Progress(*columns, console=console, transient=label_width is None, disable=not console.is_terminal)


def print_error(message: str) -> None:
    console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)


def say(message: str) -> None:
    """A plain message on stderr (notes and warnings), never parsed as markup."""
    console.print(message, markup=False, highlight=False, soft_wrap=True)


def fail_if(failures: int) -> None:
    """Exit 1 once a batch is done if any of its files failed."""
    if failures:
        raise typer.Exit(1)


def report_ingest(report) -> None:
    """What an ingest did, a line a file; exit 1 when any file failed."""
    for source, stored in report.added:
        typer.echo(f"added {source} as {stored.name}")
    for source, stored in report.duplicates:
        typer.echo(f"skipped {source}: same content as {stored.name}")
    for _, reason in report.failed:
        print_error(reason)
    typer.echo(f"{len(report.added)} added, {len(report.duplicates)} duplicates, {len(report.failed)} failed, "
               f"{len(report.ignored)} not audio")
    fail_if(len(report.failed))


def flag_for(command, parameter: str) -> str:
    """The flag a user typed for a layer's parameter name (`top_p` -> `--top-p`).

    The CLI names each option's parameter as the layer does, so the click tree maps one
    to the other; a name no option carries is shown as it is.
    """
    stack = [command]
    while stack:
        node = stack.pop()
        for param in getattr(node, "params", []):
            if param.name == parameter and param.param_type_name == "option":
                return max(param.opts, key=len)
        stack.extend(getattr(node, "commands", {}).values())
    return parameter
