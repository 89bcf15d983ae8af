"""The studio: a local web app to make, hear, keep and compare pieces, and watch the pipeline.

    ambient studio --workspace ~/ambient-workspace --open

`app` holds the routes (a JSON API and the page), `jobs` the queue that runs generation,
rendering and pipeline runs with progress and cancellation, `work` and `workshop` the
calls into the layers, `takes` the takes kept in the workspace. Every asset is in
`static/`; nothing is fetched from the network.
"""

from __future__ import annotations

import socket
from pathlib import Path

from ambient.config import STUDIO
from ambient.errors import AmbientError

DEFAULT_HOST, DEFAULT_PORT = STUDIO.host, STUDIO.port


def serve(workspace: str | Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, models: list[Path] = (),
          on_ready=None, device: str = "cpu") -> None:
    """Run the studio until interrupted; a port already taken is one clear error."""
    import uvicorn

    from ambient.studio.app import create_app

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            raise AmbientError(f"{host}:{port}: cannot listen there ({e.strerror}); choose another --port") from None
    app = create_app(workspace, models, host=host, device=device)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    if on_ready is not None:
        startup = server.startup

        async def announce(sockets=None):
            await startup(sockets)
            if server.started:
                on_ready()

        server.startup = announce
    server.run()
