"""`ambient studio`: the local web app."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ambient.cli.output import say
from ambient.config import CONTINUATION
from ambient.studio import DEFAULT_HOST, DEFAULT_PORT


def studio(
    workspace: Optional[Path] = typer.Option(None, "--workspace", "-w",
                                             help="Where takes are kept, and the pipeline workspace it shows "
                                                  "(default $AMBIENT_HOME or ./ambient-workspace)."),
    host: str = typer.Option(DEFAULT_HOST, help="Address to listen on; anything but loopback is reachable "
                                                "by other machines."),
    port: int = typer.Option(DEFAULT_PORT, help="Port to listen on."),
    model: list[Path] = typer.Option([], "--model", "-m", help="Also offer this model directory (repeatable)."),
    open_browser: bool = typer.Option(False, "--open", help="Open the page in the default browser."),
    device: str = typer.Option(CONTINUATION.device, help="auto (a GPU when there is one), cpu, cuda, cuda:N or mps."),
):
    """Make, hear, keep and compare pieces in the browser; watch the pipeline."""
    from ambient.errors import AmbientError
    from ambient.pipeline.workspace import default_root
    from ambient.device import resolve
    from ambient.studio import serve

    root = workspace if workspace is not None else default_root()
    device = resolve(device)
    for m in model:
        if not (m / "config.json").is_file():
            raise AmbientError(f"{m}: not a model directory (no config.json)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        say(f"warning: listening on {host}: anyone who can reach this machine can use the studio and its files")
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"

    def ready():
        say(f"ambient studio: {url}  (workspace {root}; Ctrl-C stops it)")
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    Path(root).mkdir(parents=True, exist_ok=True)
    serve(root, host, port, model, on_ready=ready, device=device)


def register(app: typer.Typer) -> None:
    app.command()(studio)
