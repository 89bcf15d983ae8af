"""Executors behind one `map` interface: serial, or a pool of local processes (Ray's is
ambient.cluster.executor; `runner.make_executor` picks one).

A datum runs in its scratch folder, up to `retries` times, under an optional time
limit; its outcome comes back as a value (never an exception), with the error line a
user reads and the captured traceback for `ambient pipeline logs`.
"""

from __future__ import annotations

import multiprocessing
import shutil
import signal
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from ambient.config import PIPELINE_RUN
from ambient.errors import AmbientError


@dataclass
class Datum:
    stage: str
    input: str
    digest: str
    fn: Callable
    inputs: list[Path]
    scratch: str
    params: dict
    context: dict = field(default_factory=dict)


@dataclass
class Outcome:
    ok: bool
    error: str | None = None
    log: str | None = None
    attempts: int = 0
    seconds: float = 0.0


class _TimedOut(Exception):
    pass


def _alarm(signum, frame):
    raise _TimedOut()


def execute(job: Datum, retries: int = PIPELINE_RUN.retries, timeout: float | None = PIPELINE_RUN.timeout) -> Outcome:
    """Run one datum to completion or to its last failed attempt."""
    started = time.monotonic()
    error = log = None
    attempts = 0
    for attempts in range(1, max(1, retries) + 1):
        shutil.rmtree(job.scratch, ignore_errors=True)
        Path(job.scratch).mkdir(parents=True)
        if timeout:
            signal.signal(signal.SIGALRM, _alarm)
            signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            job.fn(job.inputs, Path(job.scratch), job.params, job.context)
            return Outcome(True, attempts=attempts, seconds=time.monotonic() - started)
        except _TimedOut:
            error, log = f"{job.input}: timed out after {timeout:g} s", None
        except AmbientError as e:
            error, log = str(e), traceback.format_exc()
            break  # bad input fails the same way every time: no point retrying
        except Exception as e:  # a datum's failure is recorded, never raised into the runner
            error, log = f"{job.input}: {type(e).__name__}: {e}", traceback.format_exc()
        finally:
            if timeout:
                signal.setitimer(signal.ITIMER_REAL, 0)
    shutil.rmtree(job.scratch, ignore_errors=True)
    return Outcome(False, error, log, attempts, time.monotonic() - started)


def _execute_star(args) -> Outcome:
    return execute(*args)


def _die_with_parent() -> None:
    """Pool workers get SIGKILL when the runner dies, so none outlives a killed run."""
    try:
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: workers end when they next touch the pipe
        pass


class SerialExecutor:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map(self, jobs: list[Datum], *, retries: int, timeout: float | None, inline: bool = False
            ) -> Iterator[tuple[Datum, Outcome]]:
        for job in jobs:
            yield job, execute(job, retries, timeout)


class ProcessExecutor(SerialExecutor):
    """Worker processes started once per run (fork: no re-import per datum)."""

    def __init__(self, workers: int):
        self.workers = max(1, workers)
        self.pool = None

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
        return False

    def map(self, jobs, *, retries, timeout, inline=False):
        if inline or len(jobs) == 1:  # one datum (training): run it here, with all its threads
            yield from super().map(jobs, retries=retries, timeout=timeout)
            return
        for job in jobs:
            job.context["threads"] = 1  # a core per worker: native thread pools keep to it
        if self.pool is None:
            self.pool = multiprocessing.get_context("fork").Pool(self.workers, initializer=_die_with_parent)
        results = self.pool.imap(_execute_star, [(job, retries, timeout) for job in jobs])
        for job, outcome in zip(jobs, results):
            yield job, outcome
