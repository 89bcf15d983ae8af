"""Jobs: the studio's work, queued, one at a time per lane, with progress and cancellation.

Generation and rendering share one lane (a single worker thread), so two tabs asking
at once queue behind each other instead of racing for the model, the CPU or a take's
files. A pipeline run has a lane of its own (the workspace lock refuses a second one
anyway). A job reports progress through `Job.progress`, which is also where a cancel
lands: the next report raises `Cancelled`, the work unwinds, and nothing half-made is
kept. A job that fails records its one-line error; the worker goes on with the next.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

from ambient.config import STUDIO
from ambient.errors import AmbientError

FINAL = ("done", "failed", "cancelled")
KEEP = 200  # finished jobs remembered for the page
MAX_WAITING = STUDIO.waiting  # jobs queued behind the running ones; past this a request is refused


class QueueFull(Exception):
    pass


class Cancelled(Exception):
    pass


@dataclass
class Job:
    id: str
    kind: str
    label: str
    lane: str
    state: str = "queued"           # queued, running, done, failed, cancelled
    fraction: float = 0.0
    message: str = "waiting"
    error: str | None = None
    result: dict = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    version: int = 0                 # bumped on every change, so event streams send only news
    place: int = 0                   # jobs ahead of a queued one in its lane
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Report progress; raises Cancelled once the job has been cancelled."""
        if self._cancel.is_set():
            raise Cancelled()
        self.fraction = max(0.0, min(1.0, float(fraction)))
        if message is not None:
            self.message = message
        self.version += 1

    def public(self) -> dict:
        return {"id": self.id, "kind": self.kind, "label": self.label, "state": self.state,
                "fraction": round(self.fraction, 4), "message": self.message, "error": self.error,
                "place": self.place if self.state == "queued" else 0,
                "result": self.result, "created": self.created, "started": self.started, "finished": self.finished}


class Jobs:
    def __init__(self, lanes: tuple[str, ...] = ("make", "pipeline")):
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._queues = {lane: queue.Queue() for lane in lanes}
        self._work: dict[str, Callable[[Job], dict]] = {}
        for lane, q in self._queues.items():
            threading.Thread(target=self._worker, args=(q,), name=f"studio-{lane}", daemon=True).start()

    def submit(self, kind: str, label: str, work: Callable[[Job], dict], lane: str = "make") -> Job:
        job = Job(id=f"j{next(self._counter)}", kind=kind, label=label, lane=lane)
        with self._lock:
            waiting = sum(1 for j in self._jobs.values() if j.state == "queued")
            if waiting >= MAX_WAITING:
                raise QueueFull(f"{waiting} jobs are waiting already: let one finish or cancel one")
            self._jobs[job.id] = job
            self._work[job.id] = work
            finished = [j for j in self._jobs.values() if j.state in FINAL]
            for old in sorted(finished, key=lambda j: j.created)[:-KEEP]:
                del self._jobs[old.id]
        self._queues[lane].put(job)
        self._tell_places(lane)
        return job

    def _tell_places(self, lane: str) -> None:
        """Each queued job of a lane says how many jobs are ahead of it, not just "waiting"."""
        with self._lock:
            lined_up = sorted((j for j in self._jobs.values() if j.lane == lane and j.state in ("queued", "running")),
                              key=lambda j: j.created)
        for place, job in enumerate(lined_up):
            if job.state == "queued":
                message = f"waiting: {place} job{'s' if place != 1 else ''} ahead" if place else "starting"
                if job.message != message:
                    job.message, job.place = message, place
                    job.version += 1

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise AmbientError(f"{job_id!r}: no such job")
        return job

    def all(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created, reverse=True)

    def busy(self, lane: str) -> bool:
        return any(j.lane == lane and j.state in ("queued", "running") for j in self.all())

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        job._cancel.set()
        if job.state == "queued":
            self._finish(job, "cancelled", message="cancelled before it started")
            self._tell_places(job.lane)
        return job

    def _finish(self, job: Job, state: str, message: str | None = None, error: str | None = None) -> None:
        job.state = state
        job.error = error
        job.finished = time.time()
        if message is not None:
            job.message = message
        if state == "done":
            job.fraction = 1.0
        job.version += 1

    def _worker(self, q: queue.Queue) -> None:
        while True:
            job = q.get()
            with self._lock:
                work = self._work.pop(job.id, None)
            if job.state != "queued" or work is None:  # cancelled while it waited
                continue
            job.state, job.message, job.started = "running", "starting", time.time()
            job.version += 1
            self._tell_places(job.lane)
            try:
                job.result = work(job) or {}
                self._finish(job, "done", message="done")
            except Cancelled:
                self._finish(job, "cancelled", message="cancelled")
            except AmbientError as e:
                self._finish(job, "failed", message="failed", error=str(e))
            except Exception as e:  # the server stays up; the page shows one line, the log the rest
                traceback.print_exc()
                self._finish(job, "failed", message="failed", error=f"{type(e).__name__}: {e}")
