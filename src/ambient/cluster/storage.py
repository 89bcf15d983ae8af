"""How a datum's files travel between the pipeline's driver and Ray workers.

Two ways, chosen by `--storage`:

- none (the default): the workspace is on a folder every worker reaches (one machine,
  or NFS/Lustre on a cluster). Workers read inputs where they lie and write into the
  datum's scratch folder; the driver commits from there.
- a URL that fsspec opens (`s3://`, `gs://`, `file://`, ...): the driver uploads a
  datum's inputs to URL/inputs/<datum>/, the worker works in a local temp folder and
  uploads its outputs to URL/outputs/<datum>/, and the driver downloads them into the
  scratch folder and commits. A worker killed mid-upload leaves only a prefix that the
  next attempt clears and the driver never reads.

Either way only the driver writes the manifest, and `check_shared` proves before the
first datum that a worker really sees what the driver wrote.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from ambient.errors import AmbientError


@dataclass(frozen=True)
class Exchange:
    """Picklable: travels with every datum to the worker."""
    url: str | None = None  # None: the workspace itself is shared

    def fs(self):
        import fsspec

        fs, root = fsspec.core.url_to_fs(self.url)
        return fs, root.rstrip("/")

    def _prefix(self, kind: str, digest: str) -> str:
        fs, root = self.fs()
        return f"{root}/{kind}/{digest[:32]}"

    # driver side
    def send_inputs(self, digest: str, inputs: list[Path]) -> None:
        fs, _ = self.fs()
        prefix = self._prefix("inputs", digest)
        for i, path in enumerate(inputs):
            _put(fs, path, f"{prefix}/{i:05d}/{path.name}")

    def receive_outputs(self, digest: str, into: Path) -> None:
        fs, _ = self.fs()
        prefix = self._prefix("outputs", digest)
        shutil.rmtree(into, ignore_errors=True)
        into.mkdir(parents=True)
        for remote in sorted(fs.find(prefix)):
            rel = remote[len(prefix) + 1:]
            (into / rel).parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(remote, str(into / rel))

    def forget(self, digest: str) -> None:
        fs, _ = self.fs()
        for kind in ("inputs", "outputs", "attempts"):
            path = self._prefix(kind, digest)
            if fs.exists(path):
                fs.rm(path, recursive=True)

    # worker side
    def fetch_inputs(self, digest: str, into: Path) -> list[Path]:
        fs, _ = self.fs()
        prefix = self._prefix("inputs", digest)
        paths = []
        for remote in sorted(fs.find(prefix)):
            index, name = remote[len(prefix) + 1:].split("/", 1)
            local = into / index / name
            local.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(remote, str(local))
            paths.append(local)
        return paths

    def send_outputs(self, digest: str, folder: Path) -> None:
        fs, _ = self.fs()
        prefix = self._prefix("outputs", digest)
        if fs.exists(prefix):  # an earlier attempt's partial upload
            fs.rm(prefix, recursive=True)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            _put(fs, path, f"{prefix}/{path.relative_to(folder).as_posix()}")

    # both
    def count_attempt(self, digest: str, scratch: str) -> int:
        """Ray retries a datum without telling it which attempt it is: count them where
        the driver can read the total back."""
        if self.url is None:
            path = Path(scratch + ".attempts")
            n = int(path.read_text()) + 1 if path.exists() else 1
            path.write_text(str(n))
            return n
        fs, _ = self.fs()
        path = self._prefix("attempts", digest)
        n = int(fs.cat_file(path)) + 1 if fs.exists(path) else 1
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        fs.pipe_file(path, str(n).encode())
        return n

    def attempts(self, digest: str, scratch: str) -> int:
        if self.url is None:
            path = Path(scratch + ".attempts")
            return int(path.read_text()) if path.exists() else 0
        fs, _ = self.fs()
        path = self._prefix("attempts", digest)
        return int(fs.cat_file(path)) if fs.exists(path) else 0


def _put(fs, local: Path, remote: str) -> None:
    fs.makedirs(remote.rsplit("/", 1)[0], exist_ok=True)  # a local or mounted folder needs it; buckets ignore it
    fs.put_file(str(local), remote)


def _read_probe(exchange: Exchange, where: str) -> str | None:
    """Run on a worker: what it sees at `where` (None: nothing)."""
    try:
        if exchange.url is None:
            return Path(where).read_text()
        fs, _ = exchange.fs()
        return fs.cat_file(where).decode()
    except (OSError, ValueError):
        return None


def check_shared(ray, exchange: Exchange, scratch: Path) -> None:
    """Write a token where datums will travel and have a Ray worker read it back."""
    token = uuid.uuid4().hex
    if exchange.url is None:
        scratch.mkdir(parents=True, exist_ok=True)
        where = str(scratch / f".probe-{token}")
        Path(where).write_text(token)
    else:
        fs, root = exchange.fs()
        where = f"{root}/probe-{token}"
        fs.makedirs(root, exist_ok=True)
        fs.pipe_file(where, token.encode())
    try:
        seen = ray.get(ray.remote(_read_probe).options(num_cpus=0).remote(exchange, where))
    finally:
        if exchange.url is None:
            Path(where).unlink(missing_ok=True)
        else:
            fs.rm(where)
    if seen != token:
        if exchange.url is None:
            raise AmbientError(f"{scratch.parent}: Ray workers cannot see this workspace; put it on a folder "
                               "every node mounts, or pass --storage URL (s3://, gs://, file://)")
        raise AmbientError(f"storage {exchange.url}: not shared, a Ray worker cannot read what this machine "
                           "wrote there; use storage every node reaches (s3://, gs://, a shared file://)")
