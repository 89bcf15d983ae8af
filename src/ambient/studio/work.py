"""What the studio's jobs and uploads do, as calls into the layers (the same ones the CLI makes).

`Make` holds what a request may choose from (seeds, models, instruments) and checks every
choice against those lists, so a request names things, never paths.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ambient.config import CONTINUATION, RENDER, STUDIO, Sampling
from ambient.errors import AmbientError
from ambient.notes import Note, piece_end, shift
from ambient.studio.jobs import Job
from ambient.studio.takes import Studio, display_name, new_id, safe_label

MIDI_MAGIC = b"MThd"
AUDIO_UPLOADS = (".wav", ".mp3", ".flac", ".ogg", ".oga")


@dataclass
class MakeRequest:
    """One press of "Make": where the primer comes from and how to continue it."""
    primer: str = "seed:1"          # seed:NAME, upload:ID or take:ID
    primer_seconds: float = STUDIO.primer_seconds
    seconds: float = STUDIO.seconds
    model: str = "bundled"
    instrument: str = RENDER.instrument
    temperature: float = Sampling().temperature
    top_p: float = Sampling().top_p
    seed: int = CONTINUATION.seed
    variations: int = CONTINUATION.variations
    scale: str | None = CONTINUATION.scale
    pitch_range: str | None = None
    density: str | None = None
    max_polyphony: int | None = None
    name: str | None = None
    extra: dict = field(default_factory=dict)
    # its ranges are checked where a request arrives: studio.schema.Make


class Models:
    """The models a request may name: the bundled one, the workspace's, and any given at start."""

    def __init__(self, workspace: Path, extra: list[Path] = (), device: str = "cpu"):
        self.workspace, self.extra, self.device = workspace, list(extra), device
        self._loaded: dict[str, tuple] = {}

    def choices(self) -> list[dict]:
        from ambient.pipeline import is_workspace, models

        out = [{"id": "bundled", "label": "bundled model", "validation_loss": None}]
        out += [{"id": f"dir:{i}", "label": Path(p).name, "validation_loss": None} for i, p in enumerate(self.extra)]
        if is_workspace(self.workspace):
            from ambient.pipeline import Workspace

            for m in models(Workspace(self.workspace)):
                out.append({"id": f"workspace:{Path(m['path']).name}", "label": f"workspace {Path(m['path']).name}",
                            "validation_loss": m["validation_loss"]})
        return out

    def path(self, model_id: str) -> Path | None:
        if model_id == "bundled":
            return None
        if model_id.startswith("dir:") and model_id[4:].isdigit() and int(model_id[4:]) < len(self.extra):
            return self.extra[int(model_id[4:])]
        if model_id.startswith("workspace:"):
            from ambient.pipeline import Workspace, is_workspace

            name = model_id.split(":", 1)[1]
            if is_workspace(self.workspace):
                folder = Workspace(self.workspace).repo("models")
                if name in {p.name for p in folder.iterdir() if (p / "config.json").exists()}:
                    return folder / name
        raise AmbientError(f"{model_id!r}: no such model (see the model list)")

    def load(self, model_id: str):
        if model_id not in self._loaded:
            from ambient.checkpoint import load_model

            self._loaded[model_id] = load_model(self.path(model_id), device=self.device)
        return self._loaded[model_id]


def primer_notes(studio: Studio, primer: str) -> tuple[list[Note], str, str | None]:
    """(notes, label, parent take) of a primer named seed:NAME, upload:ID or take:ID."""
    from ambient.midi import read_midi

    kind, _, name = primer.partition(":")
    if kind == "seed":
        from ambient.seeds import seed_paths

        paths = {p.stem: p for p in seed_paths()}
        if name not in paths:
            raise AmbientError(f"{name!r}: no such bundled seed")
        return read_midi(paths[name]), f"seed {name}", None
    try:
        if kind == "upload":
            return read_midi(studio.upload_midi(name)), studio.upload(name)["label"], None
        if kind == "take":
            return studio.notes(name), studio.take(name)["name"], name
    except AmbientError as e:
        if "no such" not in str(e):
            raise
        raise AmbientError(f"the primer {primer} was deleted: choose another primer") from None
    raise AmbientError(f"{primer!r}: a primer is seed:NAME, upload:ID or take:ID")


def make_takes(studio: Studio, models: Models, request: MakeRequest, job: Job) -> dict:
    """Generate the request's variations, keep each as a take, render each with its instrument."""
    import torch

    from ambient.controls import controls_from
    from ambient.sampling import continue_piece

    torch.set_num_threads(CONTINUATION.threads)
    controls = controls_from(scale=request.scale, pitch_range=request.pitch_range, density=request.density,
                             max_polyphony=request.max_polyphony)
    notes, label, parent = primer_notes(studio, request.primer)
    if not notes:
        raise AmbientError(f"{label}: the primer has no notes")
    job.progress(0.01, "loading the model")
    net, card = models.load(request.model)
    continuations = continue_piece(
        net, notes, primer_seconds=request.primer_seconds or None, seconds=request.seconds,
        variations=request.variations, seed=request.seed, sampling=Sampling(request.temperature, 0, request.top_p),
        controls=controls if controls.active else None, codec=card.codec, program=CONTINUATION.program,
        on_step=lambda n, done: job.progress(0.8 * min(0.99, done), f"generating: {n} tokens"))
    batch, made = new_id(), []
    settings = {k: v for k, v in vars(request).items() if k not in ("name", "extra")}
    for i, continuation in enumerate(continuations):
        # a continued take keeps all of itself; a seed or upload keeps the window the model read
        before = notes if parent is not None else continuation.primer
        start = piece_end(before) if parent is not None else continuation.primer_end
        piece = before + shift(continuation.new, start - continuation.primer_end)
        # a name that says what it is: what it continues, through what, when (a person may rename it)
        made_at = time.strftime("%H:%M")
        origin = f"{studio.take(parent)['primer']} continued" if parent is not None else label
        what = f"{origin} · {request.instrument} · {made_at}"
        name = display_name(request.name, f"{what} · take {i + 1}" if request.variations > 1 else what)
        made.append(studio.add_take(piece, name=name, primer=label, primer_end=start, model=request.model,
                                    instrument=request.instrument, settings={**settings, "variation": i},
                                    batch=batch, parent=parent))
    for i, take in enumerate(made):
        render_take(studio, take, request.instrument, studio.keep(), job, (0.8 + 0.2 * i / len(made), 0.2 / len(made)))
    return {"takes": made}


def render_take(studio: Studio, take: str, instrument: str, fmt: str, job: Job | None = None,
                span: tuple[float, float] = (0.0, 1.0)) -> Path:
    """A take through an instrument, kept beside it (made once per instrument and format)."""
    from ambient.render import render

    target = studio.render_path(take, instrument, fmt)
    if not target.exists():
        report = (lambda f: job.progress(span[0] + span[1] * f, f"rendering with {instrument}")) if job else None
        render(studio.notes(take), target, instrument, seed=RENDER.seed, on_progress=report)
    studio.set_instrument(take, instrument)
    return target


def keep_only_flac(studio: Studio, job: Job) -> dict:
    """Every take's WAV renders as FLAC (lossless, about half the size), the WAVs gone, and the
    takes made from now on rendered as FLAC: what a person asks for when the workspace grows."""
    from ambient.audio import audio_writer, read_audio

    studio.set_keep("flac")
    wavs = sorted((studio.root / "takes").glob("*/*.wav"))
    before = after = 0
    for i, wav in enumerate(wavs):
        job.progress(i / max(1, len(wavs)), f"keeping {wav.parent.name} as FLAC ({i + 1} of {len(wavs)})")
        flac = wav.with_suffix(".flac")
        if not flac.exists():
            audio, rate = read_audio(wav)                           # (channels, n)
            with audio_writer(flac, rate, channels=audio.shape[0]) as out:
                out.write(audio.T)
        before, after = before + wav.stat().st_size, after + flac.stat().st_size
        wav.unlink()
    return {"converted": len(wavs), "bytes_before": before, "bytes_after": after}


def receive_primer(studio: Studio, scratch: Path, filename: str) -> dict:
    """An uploaded file, already on disk under a name the studio chose: a MIDI file is kept
    as it is, an audio file is transcribed; anything else is refused naming the upload."""
    from ambient.midi import read_midi

    label = safe_label(filename, "upload")
    head = scratch.read_bytes()[:4] if scratch.stat().st_size else b""
    if head == MIDI_MAGIC:
        midi = scratch.with_suffix(".mid")
        scratch.rename(midi)
        try:
            notes = read_midi(midi)
        except AmbientError as e:
            raise AmbientError(f"{label}: {str(e).split(': ', 1)[-1]}") from None
        if not notes:
            raise AmbientError(f"{label}: the MIDI file has no notes")
        return studio.add_upload(midi, label, "midi", notes)
    suffix = Path(label).suffix.lower()
    if suffix in (".mid", ".midi") or suffix not in AUDIO_UPLOADS:
        raise AmbientError(f"{label}: not a MIDI file (no MThd header)" if suffix in (".mid", ".midi", "")
                           else f"{label}: neither MIDI nor audio the studio reads ({', '.join(AUDIO_UPLOADS)})")
    from ambient.transcribe import transcribe_file

    audio = scratch.with_suffix(suffix)
    scratch.rename(audio)
    midi = audio.with_suffix(".mid")
    try:
        notes = transcribe_file(audio, midi)
    except AmbientError as e:
        raise AmbientError(f"{label}: {str(e).split(': ', 1)[-1]}") from None
    finally:
        audio.unlink(missing_ok=True)
    return studio.add_upload(midi, label, "audio", notes)


class _QueueSink:
    """A stream's audio as WAV bytes in a bounded queue: the HTTP response reads them out."""

    def __init__(self, blocks, rate: int, stop):
        import io

        from ambient.render.sinks import PipeSink

        self.blocks, self.buffer, self.stop = blocks, io.BytesIO(), stop
        self.wav = PipeSink(self.buffer, rate)          # the endless-WAV header, then 16-bit frames

    def write(self, block) -> None:
        import queue

        self.wav.write(block)
        chunk = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        while not self.stop.is_set():                   # the listener sets the pace; a hang-up ends it
            try:
                self.blocks.put(chunk, timeout=0.2)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        try:
            self.blocks.put_nowait(None)
        except Exception:
            pass


def forever(net, card, notes: list[Note], instrument: str, seed: int, controls):
    """Start an endless stream in its own thread: (queue of WAV byte chunks, event that stops it)."""
    import queue
    import threading

    from ambient.stream import open_stream, stream

    blocks: queue.Queue = queue.Queue(maxsize=8)
    stop = threading.Event()
    composer, performer = open_stream(net, card, notes, instrument=instrument, seed=seed, controls=controls)

    def play():
        import torch

        torch.set_num_threads(CONTINUATION.threads)
        try:
            stream(composer, performer, _QueueSink(blocks, performer.rate, stop), stop=stop)
        except Exception:  # the listener hears the stream end; the server goes on
            import traceback

            traceback.print_exc()
            blocks.put(None)

    threading.Thread(target=play, name="ambient-forever", daemon=True).start()
    return blocks, stop
