"""The studio's live desk: the endless stream played to a MIDI port or this computer's sound card,
started, steered and stopped over HTTP, one at a time.

    GET    /api/live          what plays now, where it can go (MIDI ports, the sound card)
    POST   /api/live          start: primer, model, instrument, seed, scale, and midi_out or play
    POST   /api/live/knobs    turn a knob while it plays: {"name": "temperature", "value": 0.8}
    DELETE /api/live          stop, every note ended

Everything runs through `ambient.live`, the same code as `ambient stream --midi-out/--play`.
"""

from __future__ import annotations

import asyncio
import threading

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import Field

from ambient.errors import AmbientError
from ambient.studio.schema import SEED_MAX, Strict, parse


class Live(Strict):
    primer: str = Field("seed:1", min_length=1, max_length=200)
    model: str = Field("bundled", min_length=1, max_length=200)
    instrument: str = Field("stratosphere", min_length=1, max_length=100)
    seed: int = Field(0, ge=0, le=SEED_MAX)
    scale: str | None = Field("auto", max_length=100)
    midi_out: str | None = Field(None, min_length=1, max_length=200)
    play: bool = False


class Knob(Strict):
    name: str = Field(min_length=1, max_length=40)
    value: str | float = Field()


class Desk:
    """At most one live stream; its thread, player and knobs."""

    def __init__(self):
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.stop = threading.Event()
        self.player = self.knobs = None
        self.where: list[str] = []
        self.ended: str | None = None             # how the last one ended (an error, or "stopped")

    @property
    def playing(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def state(self) -> dict:
        from ambient.extras import missing

        ports, sound, why = [], False, None
        try:
            from ambient.live.outputs import midi_system

            looker = midi_system("out", "auto", "MIDI out", client="ambient-ports")
            ports = [p for p in looker.get_ports() if not p.startswith("ambient:")]
            del looker
        except ModuleNotFoundError as e:
            why = str(missing(e, "live play") or e)
        except AmbientError as e:
            why = str(e)
        try:
            import sounddevice

            sound = any(d["max_output_channels"] for d in sounddevice.query_devices())
        except (ModuleNotFoundError, OSError):
            sound = False
        return {"playing": self.playing, "to": self.where if self.playing else [], "ports": ports,
                "sound_card": sound, "midi": why, "ended": None if self.playing else self.ended}

    def start(self, wish: Live, net, card, notes: list) -> dict:
        from ambient.controls import controls_from
        from ambient.live.control import Knobs
        from ambient.live.outputs import MidiOutput, SoundOutput, sound_card
        from ambient.live.player import Player
        from ambient.live.session import LIVE_SEGMENT, play_live
        from ambient.render.presets import preset
        from ambient.stream import open_stream

        if wish.midi_out is None and not wish.play:
            raise AmbientError("say where it plays: a MIDI port (midi_out) or this computer (play)")
        preset(wish.instrument)
        controls = controls_from(scale=wish.scale, density="auto")
        with self.lock:
            if self.playing:
                raise Conflict("a live stream is playing already; stop it first")
            outputs, audio, rate = [], [], None
            try:
                if wish.midi_out is not None:
                    outputs.append(MidiOutput(wish.midi_out))
                if wish.play:
                    device, rate = sound_card(None)
                    audio.append(SoundOutput(rate, device=device))
            except BaseException:
                for output in outputs:
                    output.close()
                raise
            composer, performer = open_stream(net, card, notes, instrument=wish.instrument, seed=wish.seed,
                                              controls=controls, segment_seconds=LIVE_SEGMENT, rate=rate,
                                              audio=wish.play)
            player = Player(outputs)
            self.stop = stop = threading.Event()
            self.player, self.knobs = player, Knobs(composer, performer=performer, outputs=outputs)
            self.where = [o.name for o in outputs] + (["this computer"] if wish.play else [])
            self.ended = None

            def run():
                try:
                    play_live(composer, player, performer=performer, audio=tuple(audio), stop=stop, knobs=self.knobs)
                    self.ended = "stopped"
                except Exception as e:  # noqa: BLE001 - the desk says how it ended; the server goes on
                    self.ended = str(e)
                finally:
                    for output in outputs:
                        output.close()

            self.thread = threading.Thread(target=run, name="ambient-live", daemon=True)
            self.thread.start()
        return self.state()

    def turn(self, knob: Knob) -> dict:
        if not self.playing:
            raise Conflict("nothing is playing live: start it first")
        return {"now": self.knobs.set(knob.name, knob.value)}

    def halt(self) -> dict:
        thread = self.thread
        if thread is not None:
            self.stop.set()
            self.player.stop.set()
            thread.join(10)
        return self.state()


class Conflict(AmbientError):
    """The desk's state refuses the request (409)."""


def add_routes(app, desk: Desk, load, primer_notes, checked) -> None:
    """The desk's endpoints on the studio's app: `load(model)` gives (net, card), `primer_notes(name)`
    the primer's notes, and `checked` turns a layer's refusal of a field into a 400."""
    @app.exception_handler(Conflict)
    async def _conflict(request: Request, e: Conflict):
        return JSONResponse({"error": str(e)}, status_code=409)

    @app.get("/api/live")
    def live_state():
        return desk.state()

    @app.post("/api/live")
    async def live_start(request: Request):
        wish = parse(Live, await request.body())
        notes = checked(primer_notes, wish.primer)
        net, card = await asyncio.to_thread(checked, load, wish.model)
        return await asyncio.to_thread(desk.start, wish, net, card, notes)

    @app.post("/api/live/knobs")
    async def live_knob(request: Request):
        return desk.turn(parse(Knob, await request.body()))

    @app.delete("/api/live")
    async def live_stop():
        return await asyncio.to_thread(desk.halt)
