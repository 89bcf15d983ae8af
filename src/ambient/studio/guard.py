"""What keeps the studio to its own page: the checks every request passes before a route.

A local server is reachable from every web page the user opens. Three rules keep those
pages out, each enough on its own against what a browser lets a foreign page send:

- **Host**: the Host header must name the address the studio listens on (a DNS-rebinding
  page arrives as `Host: evil.example`); a loopback studio also answers to `localhost`.
- **Same origin**: a browser marks where a request comes from (`Sec-Fetch-Site`, `Origin`);
  anything from another site is refused, for every /api route (a foreign page could
  otherwise start an endless stream with an `<audio>` tag).
- **Content types a form cannot send**: a POST carries `application/json` (or
  `application/octet-stream` for an upload), which another origin can only send after a
  CORS preflight this server never grants (PATCH and DELETE always need one).

Tools without a browser (curl, the tests) send neither mark and pass the first two rules.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import JSONResponse

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
UPLOADS = ("/api/primers", "/api/pipeline/sources")


WILDCARD = {"0.0.0.0", "::", ""}


def allowed_hosts(host: str) -> set[str]:
    """The names a request's Host may carry for a studio listening on `host`."""
    import socket

    host = host.strip("[]").lower()
    if host in WILDCARD:  # `--host 0.0.0.0`: this machine by any of its names
        return LOOPBACK | {socket.gethostname().lower(), socket.getfqdn().lower()}
    return LOOPBACK if host in LOOPBACK else {host}


def ip_literal(name: str) -> bool:
    """An address, not a name: DNS rebinding needs a name, so a wildcard studio takes any address."""
    import ipaddress

    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_name(header: str) -> str:
    """`127.0.0.1:8765` -> `127.0.0.1`, `[::1]:8765` -> `::1`."""
    return (urlsplit(f"//{header}").hostname or "").lower()


def refusal(method: str, path: str, headers) -> tuple[int, str] | None:
    """(status, one line) when a request must be refused, else None; `headers` lower-cased keys."""
    site = headers.get("sec-fetch-site")
    if path.startswith("/api") and site not in (None, "same-origin", "none"):
        return 403, f"refused: a request from another site ({site}) may not use the studio"
    if method not in UNSAFE:
        return None
    origin = headers.get("origin")
    if origin is not None and host_name(urlsplit(origin).netloc) != host_name(headers.get("host", "")):
        return 403, f"refused: a request from {origin} may not change anything here"
    if method != "POST":  # the other methods are never "simple": a foreign page needs a preflight for them
        return None
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    wanted = "application/octet-stream" if path.startswith(UPLOADS) else "application/json"
    if kind != wanted:
        return 415, f"send the request as {wanted}" + (f", not {kind}" if kind else "")
    return None


class Guard(BaseHTTPMiddleware):
    def __init__(self, app, host: str):
        super().__init__(app)
        self.hosts, self.any_address = allowed_hosts(host), host.strip("[]") in WILDCARD

    async def dispatch(self, request, call_next):
        name = host_name(request.headers.get("host", ""))
        if name not in self.hosts and not (self.any_address and ip_literal(name)):
            return JSONResponse({"error": f"refused: Host {name or '(none)'!r} is not this studio's address"},
                                status_code=400)
        refused = refusal(request.method, request.url.path, request.headers)
        if refused:
            return JSONResponse({"error": refused[1]}, status_code=refused[0])
        return await call_next(request)
