"""Turning the music's knobs while it plays: temperature, density, scale, instrument, program.

`Knobs` takes a change by name and a value as a person types it ("0.8", "auto", "D dorian",
"voyager"), checks it as the command line would, and hands it to the composer (its sampling
and controls are read afresh at every segment, so a change is heard within a segment or two)
or, for the instrument, to the renderer at its next block. `OscControl` serves the knobs on
127.0.0.1 over OSC: /ambient/temperature 0.8, /ambient/density auto, /ambient/scale "D dorian",
/ambient/instrument voyager, /ambient/program 89. A bad value is one line on standard error
and changes nothing.
"""

from __future__ import annotations

import dataclasses
import threading

from ambient.controls import Controls, controls_from
from ambient.errors import AmbientError, ParameterError
from ambient.extras import require

KNOBS = ("temperature", "density", "scale", "instrument", "program")


class Knobs:
    def __init__(self, composer, *, performer=None, outputs=(), on_change=None):
        self.composer, self.performer, self.outputs = composer, performer, list(outputs)
        self.on_change = on_change
        self.lock = threading.Lock()
        self.instrument: str | None = None     # waiting for the renderer's next block

    def set(self, name: str, value) -> str:
        """Apply one change; returns what now holds, e.g. 'temperature 0.8'. Raises AmbientError."""
        text = f"{value:.3g}" if isinstance(value, float) else str(value).strip()
        with self.lock:
            if name == "temperature":
                sampling = dataclasses.replace(self.composer.sampling, temperature=_number(name, text))
                sampling.check()
                self.composer.sampling = sampling
            elif name in ("density", "scale"):
                words = {"density": text if text != "none" else None, "scale": text}
                current = self.composer.controls or Controls()
                changed = controls_from(**{name: words[name]})
                merged = dataclasses.replace(current, **{name: getattr(changed, name)})
                merged.check()
                self.composer.controls = merged if merged.active else None
            elif name == "instrument":
                if self.performer is None:
                    raise ParameterError("instrument", "changes the rendered sound: play with --play or -o")
                from ambient.render.presets import preset

                preset(text)                       # an unknown name fails here, with the list
                self.instrument = text
            elif name == "program":
                number = int(_number(name, text))
                if not 0 <= number <= 127:
                    raise ParameterError("program", f"must be 0-127, got {text}")
                for output in self.outputs:
                    if hasattr(output, "program"):
                        output.program(number)
            else:
                raise ParameterError("knob", f"must be one of {', '.join(KNOBS)}, got {name!r}")
        said = f"{name} {text}"
        if self.on_change is not None:
            self.on_change(said)
        return said

    def take_instrument(self) -> str | None:
        """The instrument asked for since the last call (the renderer switches between blocks)."""
        with self.lock:
            name, self.instrument = self.instrument, None
        return name


def _number(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ParameterError(name, f"must be a number, got {text!r}") from None


class OscControl:
    """The knobs over OSC on 127.0.0.1:`port` (loopback only: nothing from the network turns them)."""

    def __init__(self, knobs: Knobs, port: int, warn):
        dispatcher = require("pythonosc.dispatcher", "--control")
        server = require("pythonosc.osc_server", "--control")
        self.knobs, self.warn = knobs, warn
        table = dispatcher.Dispatcher()
        table.map("/ambient/*", self._message)
        try:
            self.server = server.ThreadingOSCUDPServer(("127.0.0.1", port), table)
        except OSError as e:
            raise AmbientError(f"--control {port}: cannot listen ({e.strerror or e})") from None
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="ambient-osc-control", daemon=True)
        self.thread.start()

    def _message(self, address: str, *args) -> None:
        name = address.rsplit("/", 1)[-1]
        try:
            if len(args) != 1:
                raise ParameterError(name, f"takes one value, got {len(args)}")
            self.knobs.set(name, args[0])
        except AmbientError as e:
            self.warn(f"OSC {address}: {e}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
