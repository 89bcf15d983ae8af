"""The pipeline's Ray executor: each map datum a Ray task, the driver the only writer.

Ray retries a datum whose attempt raised or whose worker died (up to `retries`
attempts in all); bad input (`AmbientError`) fails the same way every time, so it comes
back as a failed outcome without a retry, as with the local executors. The time limit
is Ray's too: a datum past it is cancelled with its worker process killed, which also
stops a long C call that SIGALRM could not interrupt. The limit covers a datum's
attempts together. A reduce datum (training) runs here in the driver and trains on
the cluster through Ray Train (see training.py).
"""

from __future__ import annotations

import shutil
import tempfile
import time
import traceback
from pathlib import Path

from ambient.cluster import connect, disconnect, require_ray
from ambient.cluster.storage import Exchange, check_shared
from ambient.errors import AmbientError
from ambient.pipeline.executors import Datum, Outcome, execute


def attempt(job: Datum, exchange: Exchange) -> Outcome:
    """One attempt of a datum on a Ray worker; raises (so Ray retries) on any failure but bad input."""
    started = time.monotonic()
    n = exchange.count_attempt(job.digest, job.scratch)
    local = None
    if exchange.url is None:
        shutil.rmtree(job.scratch, ignore_errors=True)
        out = Path(job.scratch)
        out.mkdir(parents=True)
        inputs = job.inputs
    else:
        local = Path(tempfile.mkdtemp(prefix="ambient-datum-"))
        inputs = exchange.fetch_inputs(job.digest, local / "in")
        out = local / "out"
        out.mkdir()
    try:
        job.fn(inputs, out, job.params, job.context)
        if local is not None:
            exchange.send_outputs(job.digest, out)
    except AmbientError as e:
        return Outcome(False, str(e), traceback.format_exc(), n, time.monotonic() - started)
    finally:
        if local is not None:
            shutil.rmtree(local, ignore_errors=True)
    return Outcome(True, attempts=n, seconds=time.monotonic() - started)


class RayExecutor:
    def __init__(self, workers: int | None, scratch: Path, address: str | None = None, storage: str | None = None):
        self.workers, self.scratch, self.address = workers, Path(scratch), address
        self.exchange = Exchange(storage)
        self.started = False

    def __enter__(self):
        self.ray = require_ray()
        self.started = connect(self.address, cpus=self.workers)
        try:
            check_shared(self.ray, self.exchange, self.scratch)
            if not self.workers:  # as many datums in flight as the cluster has CPUs
                self.workers = max(1, int(self.ray.cluster_resources().get("CPU", 1)))
        except BaseException:
            disconnect(self.started)
            raise
        return self

    def __exit__(self, *exc):
        disconnect(self.started)
        return False

    def map(self, jobs: list[Datum], *, retries: int, timeout: float | None, inline: bool = False):
        if inline:  # a reduce datum: trains through Ray Train from here
            for job in jobs:
                job.context["ray"] = {"storage": self.exchange.url}
                yield job, execute(job, retries, timeout)
            return
        ray = self.ray
        task = ray.remote(attempt).options(num_cpus=1, max_retries=max(0, retries - 1), retry_exceptions=True)
        waiting, running = list(reversed(jobs)), {}
        while waiting or running:
            while waiting and len(running) < self.workers:
                job = waiting.pop()
                job.context["threads"] = 1  # the task holds one CPU: native thread pools keep to it
                if self.exchange.url is not None:
                    self.exchange.send_inputs(job.digest, job.inputs)
                deadline = time.monotonic() + timeout if timeout else None
                running[task.remote(job, self.exchange)] = (job, deadline)
            deadlines = [d for _, d in running.values() if d is not None]
            wait = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            ready, _ = ray.wait(list(running), num_returns=1, timeout=wait)
            for ref in ready:
                job, _ = running.pop(ref)
                yield job, self._outcome(ref, job)
            now = time.monotonic()
            for ref in [r for r, (_, d) in running.items() if d is not None and d <= now]:
                job, _ = running.pop(ref)
                ray.cancel(ref, force=True)  # kills the worker process, whatever it is doing
                yield job, self._failed(job, f"{job.input}: timed out after {timeout:g} s", None)

    def _outcome(self, ref, job: Datum) -> Outcome:
        ray = self.ray
        try:
            outcome = ray.get(ref)
        except ray.exceptions.RayTaskError as e:
            cause = e.cause if getattr(e, "cause", None) is not None else e
            return self._failed(job, f"{job.input}: {type(cause).__name__}: {cause}", str(e))
        except ray.exceptions.RayError as e:  # the worker died on its last attempt
            line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            return self._failed(job, f"{job.input}: Ray worker lost ({type(e).__name__}: {line})", str(e))
        if outcome.ok and self.exchange.url is not None:
            self.exchange.receive_outputs(job.digest, Path(job.scratch))
        self._tidy(job)
        return outcome

    def _failed(self, job: Datum, error: str, log: str | None) -> Outcome:
        attempts = self.exchange.attempts(job.digest, job.scratch)
        shutil.rmtree(job.scratch, ignore_errors=True)
        self._tidy(job)
        return Outcome(False, error, log, attempts)

    def _tidy(self, job: Datum) -> None:
        Path(job.scratch + ".attempts").unlink(missing_ok=True)
        if self.exchange.url is not None:
            self.exchange.forget(job.digest)
