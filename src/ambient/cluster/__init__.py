"""Ray, for when one machine is not enough: the pipeline's executor and training.

    ambient pipeline run --executor ray [--address auto|HOST:PORT|ray://HOST:PORT]
    ambient train DATA --out MODEL --ray-workers 4 [--gpus-per-worker 1]

The same code runs on a laptop (a local cluster on loopback, started here) and on a
cluster started elsewhere (KubeRay, `ray start` under SLURM, a managed service): see
docs/scaling.md. Ray is an optional extra; nothing else in ambient imports it.
"""

from __future__ import annotations

import socket
from urllib.parse import urlparse

from ambient.errors import AmbientError

INSTALL = "pip install 'ambient[ray]'"
CONNECT_SECONDS = 5.0  # Ray itself retries an unreachable address for half a minute and more


def require_ray():
    try:
        import ray
    except ImportError:
        raise AmbientError(f"Ray is not installed; install it with: {INSTALL}") from None
    return ray


def _reachable(address: str) -> None:
    """Fail in one line, at once, where Ray would retry an address that never answers."""
    parsed = urlparse(address if "://" in address else f"ray-gcs://{address}")
    host, port = parsed.hostname, parsed.port or (10001 if parsed.scheme == "ray" else 6379)
    if not host:
        raise AmbientError(f"Ray address {address!r}: expected auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host, port), timeout=CONNECT_SECONDS).close()
    except OSError as e:
        raise AmbientError(f"Ray address {address}: cannot reach {host}:{port} ({e.strerror or e})") from None


def connect(address: str | None = None, cpus: int | None = None) -> bool:
    """Join a cluster (`auto`, `HOST:PORT`, `ray://HOST:PORT`), or with no address start a
    local one on loopback with `cpus` CPUs. True when this call connected (the caller
    disconnects); False when the process was already connected (a test's cluster)."""
    ray = require_ray()
    if ray.is_initialized():
        return False
    quiet = {"log_to_driver": False, "logging_level": "ERROR"}
    if address is None or address == "local":
        ray.init(num_cpus=cpus, include_dashboard=False, _node_ip_address="127.0.0.1", **quiet)
        return True
    if address != "auto":
        _reachable(address)
    try:
        ray.init(address=address, **quiet)
    except ConnectionError as e:
        raise AmbientError(f"Ray address {address}: {str(e).splitlines()[0]}") from None
    return True


def disconnect(started: bool) -> None:
    if started:
        require_ray().shutdown()
