"""Where live music goes: a MIDI port (python-rtmidi), an OSC listener (python-osc), the sound card
(sounddevice, PortAudio). Each note output has `note_on`, `note_off`, `panic` and `close`; the
sound card takes rendered blocks with `write`.

MIDI goes through JACK when a JACK server is running (what a Linux studio uses, and what the
tests run against) and through ALSA's sequencer otherwise; `api` picks one by name.
"""

from __future__ import annotations

import os
import queue
import threading
import time

import numpy as np

from ambient.audio import quiet_native_stderr
from ambient.errors import AmbientError, ParameterError
from ambient.extras import require

CLIENT = "ambient"      # the name other programs see: ambient:out in JACK
STALL = 10.0            # seconds the sound card may take no audio before it is given up as gone
APIS = ("auto", "jack", "alsa")


def midi_system(kind: str, api: str, what: str, client: str = CLIENT):
    """A python-rtmidi MidiOut or MidiIn on the MIDI system asked for (auto: JACK, then ALSA),
    as a client of that name (JACK gives a second client of one name a -01 suffix, so one that
    only looks at the ports takes a name of its own)."""
    rtmidi = require("rtmidi", what)
    if api not in APIS:
        raise ParameterError("midi_api", f"must be one of {', '.join(APIS)}, got {api!r}")
    tried = {"jack": rtmidi.API_UNIX_JACK, "alsa": rtmidi.API_LINUX_ALSA}
    order = ["jack", "alsa"] if api == "auto" else [api]
    os.environ.setdefault("JACK_NO_START_SERVER", "1")   # never start a server behind the user's back
    cls = rtmidi.MidiOut if kind == "out" else rtmidi.MidiIn
    for name in order:
        try:
            with quiet_native_stderr():   # libjack and ALSA print their own lines; we say it once
                return cls(tried[name], name=client)
        except (rtmidi.SystemError, RuntimeError):
            continue
    why = {"jack": "no JACK server is running", "alsa": "ALSA's sequencer (/dev/snd/seq) cannot be opened"}
    raise AmbientError(f"{what}: no MIDI system answers ({'; '.join(why[n] for n in order)})")


def find_port(ports: list[str], wanted: str, what: str) -> int:
    """The index of the port named `wanted`: exactly, or the one port whose name contains it."""
    if wanted in ports:
        return ports.index(wanted)
    near = [i for i, p in enumerate(ports) if wanted.lower() in p.lower()]
    if len(near) == 1:
        return near[0]
    listed = ", ".join(repr(p) for p in ports) or "none"
    if near:
        raise AmbientError(f"{what} {wanted!r}: matches more than one port ({listed}); give the whole name")
    raise AmbientError(f"{what} {wanted!r}: no such MIDI port (ports: {listed}; or 'virtual' to make one)")


class MidiOutput:
    """A MIDI port: `virtual` makes one other programs connect to (ambient:out), any other name
    connects to that port. Channel 1-16; a program change first when `program` is given."""

    def __init__(self, port: str = "virtual", *, channel: int = 1, program: int | None = None, api: str = "auto"):
        if not 1 <= channel <= 16:
            raise ParameterError("channel", f"must be 1-16, got {channel}")
        if program is not None and not 0 <= program <= 127:
            raise ParameterError("program", f"must be 0-127 (General MIDI numbers from 0), got {program}")
        self.out = midi_system("out", api, "--midi-out")
        self.status = channel - 1
        self.target: str | None = None
        if port == "virtual":
            self.out.open_virtual_port("out")
            self.name = f"{CLIENT}:out"
        else:
            ports = [p for p in self.out.get_ports() if not p.startswith(f"{CLIENT}:")]
            index = self.out.get_ports().index(ports[find_port(ports, port, "--midi-out")])
            self.out.open_port(index, "out")
            self.name = self.target = self.out.get_ports()[index]
        if program is not None:
            self.out.send_message([0xC0 | self.status, program])

    def note_on(self, pitch: int, velocity: int) -> None:
        self.out.send_message([0x90 | self.status, pitch, max(1, min(127, velocity))])

    def note_off(self, pitch: int) -> None:
        self.out.send_message([0x80 | self.status, pitch, 0])

    def program(self, number: int) -> None:
        self.out.send_message([0xC0 | self.status, number])

    def panic(self) -> None:
        """Sustain up and all notes off on our channel: a synth that missed a note-off still stops."""
        self.out.send_message([0xB0 | self.status, 64, 0])
        self.out.send_message([0xB0 | self.status, 123, 0])

    def gone(self) -> str | None:
        """Why the port we play into can no longer be reached (None while it can)."""
        if self.target is not None and self.target not in self.out.get_ports():
            return f"--midi-out {self.target!r}: the port went away"
        return None

    def close(self) -> None:
        time.sleep(0.1)          # JACK sends what is queued at its next cycles: let the last note-offs go
        self.out.close_port()
        del self.out


def parse_address(text: str) -> tuple[str, int]:
    host, colon, port = text.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ParameterError("osc", f"must be HOST:PORT like 127.0.0.1:9000, got {text!r}")
    return host, int(port)


class OscOutput:
    """OSC over UDP: /ambient/note_on pitch velocity, /ambient/note_off pitch, /ambient/all_off."""

    def __init__(self, address: str):
        udp = require("pythonosc.udp_client", "--osc")
        host, port = parse_address(address)
        try:
            self.client = udp.SimpleUDPClient(host, port)
        except OSError as e:
            raise AmbientError(f"--osc {address}: {e.strerror or e}") from None
        self.name = address

    def note_on(self, pitch: int, velocity: int) -> None:
        self.client.send_message("/ambient/note_on", [pitch, velocity])

    def note_off(self, pitch: int) -> None:
        self.client.send_message("/ambient/note_off", [pitch])

    def panic(self) -> None:
        self.client.send_message("/ambient/all_off", [])

    def gone(self) -> str | None:
        return None

    def close(self) -> None:
        self.client.close()


def sound_card(name: str | None) -> tuple[int | str | None, int]:
    """The sound card asked for (a number, a name, or None: the system's) and the rate it runs at
    (a JACK server has one rate, and the music is rendered at it rather than resampled)."""
    sd = require("sounddevice", "--play")
    device = int(name) if name is not None and name.isdigit() else name
    try:
        info = sd.query_devices(device, "output")
    except (sd.PortAudioError, ValueError) as e:
        cards = "; ".join(f"{d['index']}: {d['name']}" for d in sd.query_devices() if d["max_output_channels"])
        raise AmbientError(f"--sound-device {name!r}: {e} (sound cards: {cards or 'none'})") from None
    return device, int(info["default_samplerate"])


class SoundOutput:
    """Rendered blocks to the sound card. A queue of `buffer` seconds sits between the renderer
    and PortAudio's callback; `write` waits while it is full, so the renderer runs at the music's
    speed and the callback always finds audio (an empty queue is counted as an underrun)."""

    def __init__(self, rate: int, *, device: int | str | None = None, buffer: float = 2.0, block: int = 1024):
        sd = require("sounddevice", "--play")
        self.rate, self.block = rate, block
        self.blocks: queue.Queue = queue.Queue(maxsize=max(2, int(buffer * rate / block)))
        self.pending = np.zeros((0, 2), np.float32)
        self.underruns = 0
        self.played = 0
        self.ending = False
        self.started = threading.Event()
        self.stop = threading.Event()
        try:
            self.stream = sd.OutputStream(samplerate=rate, channels=2, dtype="float32", blocksize=block,
                                          device=device, callback=self._callback)
        except (sd.PortAudioError, ValueError) as e:
            raise AmbientError(f"--play: cannot open the sound card{f' {device!r}' if device else ''} ({e})") \
                from None
        self.name = self.stream.device if device is None else device

    def _callback(self, out, frames, _time, status) -> None:
        try:
            chunk = self.blocks.get_nowait()
        except queue.Empty:
            out.fill(0)
            if self.started.is_set() and self.played and not self.ending:   # not before the start or after the end
                self.underruns += 1
            return
        out[:] = chunk
        self.played += frames

    @property
    def latency(self) -> float:
        """Seconds from a block handed to PortAudio to its sound (what MIDI waits to line up)."""
        return float(self.stream.latency)

    def start(self) -> None:
        if not self.started.is_set():
            self.stream.start()
            self.started.set()

    def write(self, audio: np.ndarray) -> None:
        """Stereo float32 (2, n) at the output's rate; waits while the buffer is full."""
        self.start()
        self.pending = np.concatenate([self.pending, audio.T.astype(np.float32)])
        whole = len(self.pending) // self.block * self.block
        for i in range(0, whole, self.block):
            waited = 0.0
            while not self.stop.is_set():
                try:
                    self.blocks.put(self.pending[i:i + self.block], timeout=0.1)
                    break
                except queue.Full:
                    waited += 0.1
                    if waited > STALL:
                        raise AmbientError(f"--play: the sound card took no audio for {STALL:g} s") from None
            else:
                return                          # stopped: what was not queued is not wanted
        self.pending = self.pending[whole:]

    def watch(self, stop: threading.Event) -> None:
        """Stop waiting for room in the buffer once `stop` is set (Ctrl-C, the studio's Stop)."""
        self.stop = stop

    def drain(self) -> None:
        """Play out what was written (the last part-block padded with silence), then return."""
        if len(self.pending):
            self.blocks.put(np.concatenate([self.pending, np.zeros((self.block - len(self.pending), 2), np.float32)]))
            self.pending = self.pending[:0]
        self.ending = True                     # the silence after the last block is not an underrun
        while self.started.is_set() and not self.blocks.empty():
            time.sleep(0.05)

    def close(self) -> None:
        self.ending = True
        self.stream.stop()
        self.stream.close()
