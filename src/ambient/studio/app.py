"""The studio's HTTP routes: a JSON API under /api, and the page that is a thin view of it.

Every action a person can click is one endpoint here, tested through the framework's
client. Errors leave as `{"error": "one line"}` with a 4xx status (a job's error stays on
the job), and the server stays up whatever a request holds.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from dataclasses import fields
from pathlib import Path

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from ambient.config import STUDIO
from ambient.errors import AmbientError
from ambient.studio.guard import Guard
from ambient.studio.jobs import FINAL, Jobs, QueueFull
from ambient.studio.live import Desk, add_routes
from ambient.studio.schema import SEED_MAX, BadRequest, Make, Render, Update, parse
from ambient.studio.takes import PLAYABLE, Studio
from ambient.studio.work import (MakeRequest, Models, forever, keep_only_flac, make_takes, primer_notes, receive_primer,
                                 render_take)
import ambient.studio.workshop as workshop

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD = STUDIO.max_upload_mb * 1024 * 1024   # bytes
MAX_LISTENERS = STUDIO.listeners
MEDIA = {"wav": "audio/wav", "flac": "audio/flac", "mp3": "audio/mpeg", "ogg": "audio/ogg", "mid": "audio/midi"}


class Refused(Exception):
    def __init__(self, status: int, message: str):
        self.status, self.message = status, message


def create_app(workspace: str | Path, models: list[Path] = (), max_upload: int = MAX_UPLOAD,
               host: str = STUDIO.host, device: str = "cpu") -> FastAPI:
    """The studio's app; `host` is the address it listens on, the one a request's Host may name."""
    root = Path(workspace).resolve()
    studio, jobs, choices = Studio(root), Jobs(), Models(root, [Path(m) for m in models], device)
    app = FastAPI(title="ambient studio", docs_url=None, redoc_url=None)
    app.add_middleware(Guard, host=host)
    app.state.studio, app.state.jobs = studio, jobs

    @app.exception_handler(BadRequest)
    async def _bad_request(request: Request, e: BadRequest):
        return JSONResponse({"error": str(e)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _bad_query(request: Request, e: RequestValidationError):
        first = e.errors()[0]
        field = str(first["loc"][-1]) if first.get("loc") else "request"
        return JSONResponse({"error": f"{field}: {first['msg'][0].lower() + first['msg'][1:]}"}, status_code=400)

    @app.exception_handler(QueueFull)
    async def _queue_full(request: Request, e: QueueFull):
        return JSONResponse({"error": str(e)}, status_code=429)

    def checked(check, *args, **keywords):
        """A layer's check of a request field: what it refuses is the request's fault, a 400."""
        try:
            return check(*args, **keywords)
        except AmbientError as e:
            raise Refused(400, str(e)) from None

    @app.exception_handler(AmbientError)
    async def _layer_error(request: Request, e: AmbientError):
        text = str(e)
        return JSONResponse({"error": text}, status_code=404 if "no such" in text else 400)

    @app.exception_handler(Refused)
    async def _refused(request: Request, e: Refused):
        return JSONResponse({"error": e.message}, status_code=e.status)

    async def receive(request: Request, filename: str) -> Path:
        """The request body, streamed to a scratch file the studio names; refused past the limit."""
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_upload:
            raise Refused(413, f"{filename}: {int(declared) / 2**20:.0f} MB is over the upload limit of "
                               f"{max_upload / 2**20:.0f} MB")
        scratch, size = studio.incoming(), 0
        try:
            with scratch.open("wb") as f:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > max_upload:
                        raise Refused(413, f"{filename}: over the upload limit of {max_upload / 2**20:.0f} MB")
                    f.write(chunk)
        except BaseException:
            scratch.unlink(missing_ok=True)
            raise
        if size == 0:
            scratch.unlink()
            raise Refused(400, f"{filename}: empty upload")
        return scratch

    # the page
    @app.get("/")
    def page():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # what there is to choose from
    @app.get("/api/options")
    def options():
        from ambient.controls import MODES
        from ambient.render import PRESETS
        from ambient.seeds import describe_seeds

        defaults = {f.name: getattr(MakeRequest(), f.name) for f in fields(MakeRequest) if f.name != "extra"}
        return {"seeds": describe_seeds(), "models": choices.choices(), "uploads": studio.uploads(),
                "instruments": [{"name": p.name, "description": p.description} for p in PRESETS.values()],
                "modes": list(MODES), "defaults": defaults, "workspace": str(root)}

    # primers
    @app.post("/api/primers")
    async def upload_primer(request: Request, filename: str = "upload"):
        scratch = await receive(request, filename)
        try:
            return await asyncio.to_thread(receive_primer, studio, scratch, filename)
        finally:
            for leftover in scratch.parent.glob(scratch.name + ".*"):
                leftover.unlink(missing_ok=True)
            scratch.unlink(missing_ok=True)

    @app.delete("/api/primers/{upload}")
    def delete_primer(upload: str):
        studio.delete_upload(upload)
        return {"deleted": upload}

    # what the workspace holds on disk, and keeping only FLAC
    @app.get("/api/storage")
    def storage():
        return studio.storage()

    @app.post("/api/storage/flac")
    def flac_only():
        return jobs.submit("storage", "keep only FLAC", lambda j: keep_only_flac(studio, j)).public()

    # takes
    @app.post("/api/takes")
    async def make(request: Request):
        wish = parse(Make, await request.body()).request()
        # every choice is checked now, so a mistake is a 400 here rather than a failed job later
        from ambient.controls import controls_from
        from ambient.render import preset

        checked(choices.path, wish.model)
        checked(preset, wish.instrument)
        _, label, _ = checked(primer_notes, studio, wish.primer)
        checked(controls_from, scale=wish.scale, pitch_range=wish.pitch_range, density=wish.density,
                max_polyphony=wish.max_polyphony)
        job = jobs.submit("make", f"{label}, {wish.seconds:g} s", lambda j: make_takes(studio, choices, wish, j))
        return job.public()

    @app.get("/api/takes")
    def takes():
        return {"takes": studio.takes()}

    @app.get("/api/takes/{take}")
    def take(take: str):
        row = studio.take(take)
        row["notes"] = [[round(n.start, 3), round(n.end, 3), n.pitch, n.velocity] for n in studio.notes(take)]
        return row

    @app.patch("/api/takes/{take}")
    async def update(take: str, request: Request):
        change = parse(Update, await request.body())
        return studio.update_take(take, change.name, change.starred)

    @app.delete("/api/takes/{take}")
    def delete(take: str):
        studio.delete_take(take)
        return {"deleted": take, "undo": f"/api/takes/{take}/restore"}

    @app.post("/api/takes/{take}/restore")
    def restore(take: str):
        return studio.restore_take(take)

    @app.post("/api/takes/{take}/render")
    async def rerender(take: str, request: Request):
        wish = parse(Render, await request.body())
        studio.take(take)                                                  # a missing take is a 404
        fmt = wish.format or studio.keep()
        checked(studio.render_path, take, wish.instrument, fmt)   # an unknown instrument a 400
        job = jobs.submit("render", f"{take} with {wish.instrument} ({fmt})", lambda j: {
            "take": take, "path": render_take(studio, take, wish.instrument, fmt, j).name})
        return job.public()

    @app.get("/api/takes/{take}/audio/{instrument}.{fmt}")
    def audio(take: str, instrument: str, fmt: str):
        if fmt not in PLAYABLE:
            raise Refused(404, f"{fmt!r}: a take plays from {' or '.join(PLAYABLE)}")
        path = studio.render_path(take, instrument, fmt)
        if not path.exists():
            raise Refused(404, f"{take} has no {instrument} render yet (ask for one: POST /api/takes/{take}/render)")
        return FileResponse(path, media_type=MEDIA[fmt])

    @app.get("/api/takes/{take}/download.{fmt}")
    def download(take: str, fmt: str, instrument: str | None = None):
        row = studio.take(take)
        stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in row["name"]).strip("-")[:60] or take
        if fmt == "mid":
            return FileResponse(studio.folder("takes", take) / "take.mid", media_type=MEDIA["mid"],
                                filename=f"{stem}.mid")
        instrument = instrument or row["instrument"]
        path = checked(studio.render_path, take, instrument, fmt)
        if not path.exists():  # a GET never starts work: renders go through the job queue
            raise Refused(404, f"{take} has no {instrument} {fmt} yet (ask for one: POST /api/takes/{take}/render "
                               f'with {{"instrument": "{instrument}", "format": "{fmt}"}})')
        return FileResponse(path, media_type=MEDIA[fmt], filename=f"{stem}.{fmt}")

    # jobs
    @app.get("/api/jobs")
    def all_jobs():
        return {"jobs": [j.public() for j in jobs.all()]}

    @app.get("/api/jobs/{job_id}")
    def job(job_id: str):
        return jobs.get(job_id).public()

    @app.delete("/api/jobs/{job_id}")
    def cancel(job_id: str):
        return jobs.cancel(job_id).public()

    @app.get("/api/jobs/{job_id}/events")
    async def events(job_id: str, request: Request):
        job = jobs.get(job_id)

        async def stream():
            seen = -1
            while not await request.is_disconnected():
                if job.version != seen:
                    seen = job.version
                    yield f"data: {json.dumps(job.public())}\n\n"
                    if job.state in FINAL:
                        return
                await asyncio.sleep(0.15)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    # play forever: an endless WAV stream, generated and rendered as it is heard
    listeners = threading.BoundedSemaphore(MAX_LISTENERS)

    @app.get("/api/stream")
    async def play_forever(request: Request, primer: str = "seed:1", model: str = "bundled",
                           instrument: str = "stratosphere", seed: int = Query(0, ge=0, le=SEED_MAX),
                           scale: str | None = "auto"):
        from ambient.controls import controls_from
        from ambient.render import preset

        checked(preset, instrument)
        controls = checked(controls_from, scale=scale, density="auto")
        notes, _, _ = checked(primer_notes, studio, primer)
        if not listeners.acquire(blocking=False):
            raise Refused(429, f"{MAX_LISTENERS} streams are playing already; stop one first")
        try:
            net, card = await asyncio.to_thread(choices.load, model)
        except BaseException:
            listeners.release()
            raise
        blocks, stop = forever(net, card, notes, instrument, seed, controls)

        async def audio():
            try:
                while not await request.is_disconnected():
                    try:
                        chunk = await asyncio.to_thread(blocks.get, True, 0.5)
                    except queue.Empty:
                        continue
                    if chunk is None:
                        return
                    yield chunk
            finally:
                stop.set()
                listeners.release()

        return StreamingResponse(audio(), media_type="audio/wav", headers={"Cache-Control": "no-cache"})

    # live: to a MIDI port or this computer's sound card, steered while it plays
    desk = app.state.desk = Desk()
    add_routes(app, desk, choices.load, lambda primer: primer_notes(studio, primer)[0], checked)

    # the pipeline
    @app.get("/api/pipeline")
    def pipeline():
        view = workshop.overview(root)
        running = [j.public() for j in jobs.all() if j.lane == "pipeline" and j.state not in FINAL]
        return {**view, "run": running[0] if running else None}

    @app.get("/api/pipeline/logs/{stage}")
    def pipeline_logs(stage: str, source: str | None = None):
        return {"stage": stage, "datums": workshop.datum_log(root, stage, source)}

    @app.post("/api/pipeline/init")
    def pipeline_init():
        from ambient.pipeline import Workspace, is_workspace

        if not is_workspace(root):
            Workspace.init(root)
        return workshop.overview(root)

    @app.post("/api/pipeline/sources")
    async def add_source(request: Request, filename: str = "upload"):
        from ambient.pipeline import Workspace

        Workspace(root)  # not a workspace: say so before taking the upload
        scratch = await receive(request, filename)
        try:
            return await asyncio.to_thread(workshop.add_source, root, scratch, filename)
        finally:
            scratch.unlink(missing_ok=True)

    @app.post("/api/pipeline/run")
    def pipeline_run():
        from ambient.pipeline import Workspace

        if not any(Workspace(root).repo("audio").iterdir()):
            raise Refused(400, "nothing to run yet: add audio files to the collection first")
        if jobs.busy("pipeline"):
            raise Refused(409, "a pipeline run is already under way")
        return jobs.submit("pipeline", "pipeline run", lambda j: workshop.run_pipeline(root, j), lane="pipeline").public()

    return app
