"""The studio's live desk against a JACK server on its dummy driver: a MIDI reader in another
process hears what the page starts, the knobs turn over HTTP, Stop ends every note."""

import os
import sys
import time

import pytest
from fastapi.testclient import TestClient

from ambient.studio.app import create_app
from tests.jack import left_sounding, reader, received, start_jack, stop_jack, wait_for_port
from tests.test_studio_api import JSON, LOCAL

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def jack():
    name = "ambient-test-studio"
    server = start_jack(name)
    saved = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = name           # the studio runs in this process
    yield dict(os.environ)
    if "sounddevice" in sys.modules:                 # PortAudio lets go of JACK before the server goes
        sys.modules["sounddevice"]._terminate()      # (sounddevice's documented way to re-initialise)
    if saved is None:
        del os.environ["JACK_DEFAULT_SERVER"]
    else:
        os.environ["JACK_DEFAULT_SERVER"] = saved
    stop_jack(server)


@pytest.fixture
def client(tmp_path, jack):
    with TestClient(create_app(tmp_path / "ws"), base_url=LOCAL) as c:
        yield c


def test_the_desk_plays_to_a_midi_port_turns_its_knobs_and_stops_every_note(client, jack, tmp_path):
    synth = reader(jack, "virtual", tmp_path / "synth.jsonl", client="synth")
    state = client.get("/api/live").json()
    assert state["playing"] is False and "synth:in" in state["ports"] and state["midi"] is None
    started = client.post("/api/live", json={"primer": "seed:2", "midi_out": "synth"}, headers=JSON)
    assert started.status_code == 200, started.text
    assert started.json()["playing"] is True and started.json()["to"] == ["synth:in"]
    again = client.post("/api/live", json={"midi_out": "synth"}, headers=JSON)
    assert again.status_code == 409 and again.json()["error"].startswith("a live stream is playing already")
    turned = client.post("/api/live/knobs", json={"name": "temperature", "value": 0.7}, headers=JSON)
    assert turned.json() == {"now": "temperature 0.7"}
    bad = client.post("/api/live/knobs", json={"name": "density", "value": "lots"}, headers=JSON)
    assert bad.status_code == 400 and bad.json()["error"] == "density must be auto or a number, got 'lots'"
    deadline = time.monotonic() + 30
    while len(received(tmp_path / "synth.jsonl")) < 10:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    stopped = client.delete("/api/live").json()
    assert stopped["playing"] is False and stopped["ended"] == "stopped"
    time.sleep(0.3)
    synth.kill()
    got = received(tmp_path / "synth.jsonl")
    assert left_sounding(got) == set()                # the reader heard All Notes Off whatever it missed
    assert got[-1]["bytes"] == [0xB0, 123, 0]
    late = client.post("/api/live/knobs", json={"name": "temperature", "value": 0.7}, headers=JSON)
    assert late.status_code == 409 and late.json()["error"] == "nothing is playing live: start it first"


@pytest.mark.parametrize("body, status, error", [
    ({"primer": "seed:2"}, 400, "say where it plays: a MIDI port (midi_out) or this computer (play)"),
    ({"midi_out": "no-such-synth"}, 404, "--midi-out 'no-such-synth': no such MIDI port"),
    ({"midi_out": "virtual", "instrument": "kazoo"}, 404, "kazoo: no such instrument"),
    ({"midi_out": "virtual", "scale": "H major"}, 400, "scale must be auto, none or TONIC MODE"),
    ({"midi_out": "virtual", "volume": 11}, 400, "unknown setting 'volume'"),
])
def test_a_bad_start_is_one_line_and_nothing_plays(client, body, status, error):
    answer = client.post("/api/live", json=body, headers=JSON)
    assert answer.status_code == status and answer.json()["error"].startswith(error)
    assert client.get("/api/live").json()["playing"] is False


def test_the_desk_plays_on_this_computers_sound_card(client, jack):
    wait_for_port_args = (jack, "PortAudio:out_0")
    started = client.post("/api/live", json={"play": True, "instrument": "voyager"}, headers=JSON)
    assert started.status_code == 200, started.text
    wait_for_port(*wait_for_port_args)
    changed = client.post("/api/live/knobs", json={"name": "instrument", "value": "stratosphere"}, headers=JSON)
    assert changed.json() == {"now": "instrument stratosphere"}
    time.sleep(3)
    assert client.delete("/api/live").json()["ended"] == "stopped"
