"""The studio's JSON API through the framework's test client: every endpoint, bad input included."""

import io
import re
import time

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from ambient.midi import write_midi
from ambient.notes import Note
from ambient.pipeline import Workspace, run
from ambient.pipeline.sources import add
from ambient.pipeline.stages import standard_stages
from ambient.render import preset
from ambient.studio.app import create_app
from tests.test_pipeline import TINY_TRAINING, melody

LOCAL = "http://127.0.0.1:8765"   # the address the studio listens on: the only Host it answers
UPLOAD = {"Content-Type": "application/octet-stream"}
JSON = {"Content-Type": "application/json"}


def wait(client, job: dict, timeout: float = 120.0) -> dict:
    end = time.time() + timeout
    while time.time() < end:
        state = client.get(f"/api/jobs/{job['id']}").json()
        if state["state"] in ("done", "failed", "cancelled"):
            return state
        time.sleep(0.1)
    raise AssertionError(f"job {job['id']} still {state['state']} after {timeout} s")


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(tmp_path / "ws", max_upload=1 << 20), base_url=LOCAL) as c:
        yield c


def make(client, **settings) -> list[dict]:
    response = client.post("/api/takes", json={"primer": "seed:2", "seconds": 6, **settings})
    assert response.status_code == 200, response.json()
    done = wait(client, response.json())
    assert done["state"] == "done", done
    return [client.get(f"/api/takes/{t}").json() for t in done["result"]["takes"]]


def midi_bytes(tmp_path, notes) -> bytes:
    write_midi(tmp_path / "up.mid", notes)
    return (tmp_path / "up.mid").read_bytes()


def test_options_offer_the_seeds_the_bundled_model_and_every_instrument(client):
    o = client.get("/api/options").json()
    assert [s["name"] for s in o["seeds"]][:3] == ["1", "2", "3"]
    assert o["models"][0]["id"] == "bundled"
    assert "stratosphere" in [i["name"] for i in o["instruments"]] and "dorian" in o["modes"]
    assert o["defaults"]["seconds"] == 30.0 and o["defaults"]["scale"] == "auto"


def test_a_take_is_kept_heard_downloaded_and_survives_a_restart(tmp_path, client):
    [take] = make(client, seed=3, instrument="voyager")
    assert take["primer"] == "seed 2" and take["instrument"] == "voyager" and take["renders"] == ["voyager"]
    assert take["seconds"] >= take["primer_end"] + 5.0 and take["primer_end"] == pytest.approx(20.0, abs=0.5)
    assert len(take["notes"]) == take["note_count"] > 10
    assert any(start >= take["primer_end"] for start, *_ in take["notes"])        # a continuation, not only the primer
    wav = client.get(f"/api/takes/{take['id']}/audio/voyager.wav")
    info = sf.info(io.BytesIO(wav.content))
    tail = preset("voyager").tail                                                   # the reverb's ring after the last note
    assert wav.status_code == 200 and info.duration == pytest.approx(take["seconds"] + tail, abs=0.1)
    mid = client.get(f"/api/takes/{take['id']}/download.mid")
    assert mid.content[:4] == b"MThd" and "attachment" in mid.headers["content-disposition"]
    for fmt in ("flac", "mp3"):
        url = f"/api/takes/{take['id']}/download.{fmt}?instrument=voyager"
        missing = client.get(url)                  # a GET never renders: it says how to ask for one
        assert missing.status_code == 404 and f"POST /api/takes/{take['id']}/render" in missing.json()["error"]
        job = client.post(f"/api/takes/{take['id']}/render", json={"instrument": "voyager", "format": fmt}).json()
        assert wait(client, job)["state"] == "done"
        audio = client.get(url)
        assert audio.status_code == 200 and sf.info(io.BytesIO(audio.content)).duration > take["seconds"]
    with TestClient(create_app(tmp_path / "ws"), base_url=LOCAL) as again:                        # a restart
        assert [t["id"] for t in again.get("/api/takes").json()["takes"]] == [take["id"]]


def test_variations_sit_in_one_batch_and_differ(client):
    first, second = make(client, variations=2, seed=5)
    assert first["batch"] == second["batch"] and first["notes"] != second["notes"]
    names = [t["name"] for t in client.get("/api/takes").json()["takes"]]
    assert [n.split(" · ")[:2] + n.split(" · ")[3:] for n in names] == [["seed 2", "stratosphere", "take 1"],
                                                                        ["seed 2", "stratosphere", "take 2"]]
    assert all(re.fullmatch(r"\d\d:\d\d", n.split(" · ")[2]) for n in names)   # when it was made


def test_rename_star_rerender_and_delete(client):
    [take] = make(client)
    path = f"/api/takes/{take['id']}"
    renamed = client.patch(path, json={"name": "dawn/../../x\n", "starred": True}).json()
    assert renamed["name"] == "dawn/../../x"                                        # a name, never a path
    assert client.get(path).json()["starred"] is True
    job = client.post(path + "/render", json={"instrument": "underwater-temple"}).json()
    assert wait(client, job)["state"] == "done"
    assert client.get(path).json()["renders"] == ["stratosphere", "underwater-temple"]
    assert client.post(path + "/render", json={"instrument": "kazoo"}).json() == {"error": "'kazoo': no such instrument"}
    assert client.delete(path).json()["deleted"] == take["id"]
    assert client.get(path).status_code == 404 and client.get("/api/takes").json()["takes"] == []


def test_continuing_a_take_keeps_all_of_it_and_adds_more(client):
    [take] = make(client)
    [longer] = make(client, primer=f"take:{take['id']}", seconds=5)
    assert longer["parent"] == take["id"] and longer["primer_end"] == pytest.approx(take["seconds"])
    assert longer["notes"][:len(take["notes"])] == take["notes"]
    assert longer["seconds"] >= take["seconds"] + 4.0


def test_an_uploaded_midi_primes_a_take(tmp_path, client):
    notes = [Note(i * 0.5, i * 0.5 + 1.0, 60 + (i * 7) % 12, 70) for i in range(40)]
    up = client.post("/api/primers?filename=../../my%20piece.mid", headers=UPLOAD, content=midi_bytes(tmp_path, notes)).json()
    assert up["label"] == "my piece.mid" and up["kind"] == "midi" and up["notes"] == 40
    assert [u["id"] for u in client.get("/api/options").json()["uploads"]] == [up["id"]]
    [take] = make(client, primer=f"upload:{up['id']}", primer_seconds=0)
    assert take["primer"] == "my piece.mid" and take["primer_end"] == pytest.approx(20.5, abs=0.05)


def test_an_uploaded_recording_is_transcribed(tmp_path, client):
    melody(tmp_path / "tune.wav", seed=1, seconds=3.0)
    up = client.post("/api/primers?filename=tune.wav", headers=UPLOAD, content=(tmp_path / "tune.wav").read_bytes()).json()
    assert up["kind"] == "audio" and up["notes"] >= 2


@pytest.mark.parametrize("name,body,error", [
    ("notes.mid", b"these are not notes", "notes.mid: not a MIDI file (no MThd header)"),
    ("song.mp3", b"ID3 but nothing after", "song.mp3: "),
    ("photo.jpg", b"\xff\xd8\xff\xe0 jpeg", "photo.jpg: neither MIDI nor audio the studio reads"),
    ("empty.mid", b"", "empty.mid: empty upload"),
])
def test_a_bad_upload_gets_one_line_naming_it_and_leaves_nothing(client, name, body, error):
    response = client.post(f"/api/primers?filename={name}", headers=UPLOAD, content=body)
    assert response.status_code == 400 and response.json()["error"].startswith(error)
    assert "\n" not in response.json()["error"]
    assert client.get("/api/options").json()["uploads"] == []
    assert list((client.app.state.studio.root / "incoming").iterdir()) == []


def test_a_midi_file_with_no_notes_is_refused(tmp_path, client):
    response = client.post("/api/primers?filename=silent.mid", headers=UPLOAD, content=midi_bytes(tmp_path, []))
    assert response.status_code == 400 and response.json()["error"].startswith("silent.mid: ")


def test_a_200_mb_upload_is_refused_before_it_is_read(client):
    declared = client.post("/api/primers?filename=huge.wav", content=b"x" * 16,
                           headers={**UPLOAD, "content-length": str(200 * 2**20)})
    assert declared.status_code == 413 and declared.json()["error"] == \
        "huge.wav: 200 MB is over the upload limit of 1 MB"
    streamed = client.post("/api/primers?filename=huge.wav", headers=UPLOAD, content=(b"x" * 65536 for _ in range(40)))
    assert streamed.status_code == 413 and "over the upload limit" in streamed.json()["error"]
    assert list((client.app.state.studio.root / "incoming").iterdir()) == []


@pytest.mark.parametrize("path", ["/api/takes/..%2F..%2Fetc%2Fpasswd", "/api/takes/....etc.passwd",
                                  "/api/takes/0123456789ab/audio/..%2F..%2Fpasswd.wav",
                                  "/api/takes/0123456789ab/download.mid"])
def test_no_path_from_a_request_reaches_the_file_system(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "root:" not in response.text


def test_bad_settings_are_refused_before_anything_is_queued(client):
    for body, error in [({"seconds": 0}, "seconds: input should be greater than or equal to 1 (got 0)"),
                        ({"top_p": 2}, "top_p: input should be less than or equal to 1 (got 2)"),
                        ({"primer": "upload:0123456789ab"}, "the primer upload:0123456789ab was deleted"),
                        ({"model": "../../etc"}, "'../../etc': no such model"),
                        ({"primer": "seed:1", "scale": "H lydian"}, "scale must be auto, none or TONIC MODE"),
                        ({"volume": 11}, "unknown setting 'volume'")]:
        response = client.post("/api/takes", json={"primer": "seed:1", **body})
        assert response.status_code in (400, 404) and response.json()["error"].startswith(error), response.json()
    assert client.get("/api/jobs").json()["jobs"] == []


def test_a_failed_job_shows_its_line_and_the_server_stays_up(client):
    [take] = make(client)
    long = client.post("/api/takes", json={"primer": "seed:1", "seconds": 600}).json()
    follow = client.post("/api/takes", json={"primer": f"take:{take['id']}"}).json()   # Continue, queued
    client.delete(f"/api/takes/{take['id']}")                                           # then delete its parent
    client.delete(f"/api/jobs/{long['id']}")
    done = wait(client, follow)
    assert done["state"] == "failed"
    assert done["error"] == f"the primer take:{take['id']} was deleted: choose another primer"
    assert make(client)                                                           # still working


def test_a_cancelled_job_keeps_nothing_and_two_jobs_take_turns(client):
    long = client.post("/api/takes", json={"primer": "seed:1", "seconds": 600}).json()
    queued = client.post("/api/takes", json={"primer": "seed:2", "seconds": 5}).json()
    also_queued = client.post("/api/takes", json={"primer": "seed:3", "seconds": 5}).json()
    while client.get(f"/api/jobs/{long['id']}").json()["state"] == "queued":
        time.sleep(0.05)
    assert client.get(f"/api/jobs/{queued['id']}").json()["state"] == "queued"      # one at a time
    assert client.delete(f"/api/jobs/{also_queued['id']}").json()["state"] == "cancelled"
    client.delete(f"/api/jobs/{long['id']}")
    assert wait(client, long)["state"] == "cancelled"
    second = wait(client, queued)
    assert second["state"] == "done" and second["started"] >= wait(client, long)["finished"]
    assert len(client.get("/api/takes").json()["takes"]) == 1                      # only the finished one


def test_job_events_stream_progress_to_the_end(client):
    job = client.post("/api/takes", json={"primer": "seed:1", "seconds": 5}).json()
    with client.stream("GET", f"/api/jobs/{job['id']}/events") as events:
        states = [line for line in events.iter_lines() if line.startswith("data: ")]
    assert '"state": "done"' in states[-1] and len(states) >= 2


@pytest.fixture
def workspace_with_a_bad_file(tmp_path):
    ws = Workspace.init(tmp_path / "ws", TINY_TRAINING)
    melody(tmp_path / "good.wav", seed=2)
    add(ws, [tmp_path / "good.wav"])
    (ws.repo("audio") / "broken.mp3").write_bytes(b"ID3" + b"\x00" * 200)         # ingest would refuse it: copied in
    run(ws, standard_stages(ws.params)[:1], executor="serial", retries=1)          # decode only
    return ws


def test_the_pipeline_view_shows_sources_failures_and_logs(workspace_with_a_bad_file):
    with TestClient(create_app(workspace_with_a_bad_file.root), base_url=LOCAL) as client:
        view = client.get("/api/pipeline").json()
        assert view["is_workspace"] and view["stages"]["decode"]["failed"] == 1
        assert list(view["stages"]["decode"]["errors"]) == ["broken.mp3"]
        assert {s["name"]: s["stages"]["decode"] for s in view["sources"]} == {"broken.mp3": "failed", "good.wav": "done"}
        [log] = client.get("/api/pipeline/logs/decode?source=broken.mp3").json()["datums"]
        assert log["error"].startswith("broken.mp3") or "broken.mp3" in log["error"]
        assert client.get("/api/pipeline/logs/nonsense").json() == {"error": "'nonsense': no such stage"}


def test_sources_are_added_by_upload_and_a_run_goes_to_the_end(tmp_path, workspace_with_a_bad_file):
    with TestClient(create_app(workspace_with_a_bad_file.root), base_url=LOCAL) as client:
        melody(tmp_path / "new.wav", seed=4)
        added = client.post("/api/pipeline/sources?filename=New%20Tune.wav", headers=UPLOAD, content=(tmp_path / "new.wav").read_bytes())
        assert added.json() == {"added": ["new-tune.wav"], "duplicates": []}
        bad = client.post("/api/pipeline/sources?filename=notes.txt", headers=UPLOAD, content=b"hello")
        assert bad.status_code == 400 and bad.json()["error"].startswith("notes.txt")
        job = client.post("/api/pipeline/run", headers=JSON).json()
        assert client.post("/api/pipeline/run", headers=JSON).status_code == 409                 # one run at a time
        done = wait(client, job, timeout=300)
        assert done["state"] == "done" and done["result"]["failed"] == 1           # the broken file, alone
        view = client.get("/api/pipeline").json()
        assert view["stages"]["train"]["failed"] == 0 and len(view["models"]) == 1
        assert view["models"][0]["sources"] == ["good.wav", "new-tune.wav"]
        models = [m["id"] for m in client.get("/api/options").json()["models"]]
        assert models == ["bundled", f"workspace:{view['models'][0]['name']}"]


def test_a_folder_that_is_no_workspace_can_become_one(client):
    assert client.get("/api/pipeline").json()["is_workspace"] is False
    assert client.post("/api/pipeline/run", headers=JSON).json()["error"].endswith("not a pipeline workspace (run `ambient pipeline init "
                                                                     f"{client.app.state.studio.root.parent}`)")
    assert client.post("/api/pipeline/init", headers=JSON).json()["is_workspace"] is True


def test_play_forever_streams_wav_until_the_listener_leaves(client):
    import struct

    with client.stream("GET", "/api/stream?primer=seed:2&instrument=voyager") as audio:
        assert audio.headers["content-type"] == "audio/wav"
        received = b""
        for chunk in audio.iter_bytes():
            received += chunk
            if len(received) > 44 + 44100 * 4 * 5:            # five seconds, then hang up
                break
    assert received[:4] == b"RIFF" and received[8:16] == b"WAVEfmt "
    channels, rate = struct.unpack("<HI", received[22:28])
    assert (channels, rate) == (2, 44100)
    frames = np.frombuffer(received[44:44 + 44100 * 4 * 5], dtype="<i2").reshape(-1, 2)
    assert np.abs(frames).max() > 1000                          # music, not silence
    assert client.get("/api/stream?instrument=kazoo").json()["error"].startswith("kazoo: no such instrument")


def test_a_taken_port_is_one_line_and_no_server(tmp_path):
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "ambient", "studio", "-w", str(tmp_path), "--port", str(port)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: 127.0.0.1:{port}: cannot listen there (Address already in use); " \
                                    "choose another --port"


def test_a_deleted_take_can_be_brought_back_until_the_trash_is_full(client):
    from ambient.studio.takes import KEEP_DELETED

    [take] = make(client, seconds=2)
    gone = client.delete(f"/api/takes/{take['id']}").json()
    assert gone == {"deleted": take["id"], "undo": f"/api/takes/{take['id']}/restore"}
    assert client.get("/api/takes").json()["takes"] == []
    assert client.get(f"/api/takes/{take['id']}").status_code == 404
    back = client.post(gone["undo"], headers=JSON)
    assert back.status_code == 200 and back.json()["id"] == take["id"]
    assert client.get(f"/api/takes/{take['id']}/audio/stratosphere.wav").status_code == 200   # its files came back
    again = client.post(gone["undo"], headers=JSON)
    assert again.status_code == 400 and again.json()["error"] == f"'{take['id']}': no deleted take to bring back"
    studio = client.app.state.studio
    for _ in range(KEEP_DELETED):          # deleting more pushes the oldest out of the trash for good
        [other] = make(client, seconds=2)
        client.delete(f"/api/takes/{other['id']}")
    client.delete(f"/api/takes/{take['id']}")
    assert len(list((studio.root / "trash").iterdir())) == KEEP_DELETED


def test_a_studio_made_before_undo_opens_and_gains_it(tmp_path):
    import sqlite3

    from ambient.studio.takes import SCHEMA, Studio

    folder = tmp_path / "ws" / "studio"
    folder.mkdir(parents=True)
    db = sqlite3.connect(folder / "studio.sqlite")
    db.executescript(SCHEMA.replace("parent TEXT, deleted REAL", "parent TEXT"))
    db.execute("INSERT INTO takes (id, name, starred, created, primer, primer_end, seconds, notes, model, instrument, "
               "settings, batch, parent) VALUES ('0123456789ab', 'old', 0, 1.0, 'seed 1', 1.0, 2.0, 1, 'bundled', "
               "'voyager', '{}', 'b', NULL)")
    db.commit()
    db.close()
    (folder / "takes" / "0123456789ab").mkdir(parents=True)
    studio = Studio(tmp_path / "ws")
    assert [t["name"] for t in studio.takes()] == ["old"]
    studio.delete_take("0123456789ab")
    assert studio.takes() == [] and studio.restore_take("0123456789ab")["name"] == "old"


def test_uploads_are_listed_with_their_dates_and_can_be_deleted(tmp_path, client):
    notes = [Note(i * 0.5, i * 0.5 + 1.0, 60 + i % 5, 80) for i in range(30)]
    first = client.post("/api/primers?filename=tune.mid", headers=UPLOAD, content=midi_bytes(tmp_path, notes)).json()
    second = client.post("/api/primers?filename=tune.mid", headers=UPLOAD, content=midi_bytes(tmp_path, notes)).json()
    listed = client.get("/api/options").json()["uploads"]
    assert [u["id"] for u in listed] == [second["id"], first["id"]]            # newest first, told apart by date
    assert all(u["label"] == "tune.mid" and u["created"] > 0 and u["notes"] == 30 for u in listed)
    assert client.delete(f"/api/primers/{first['id']}").json() == {"deleted": first["id"]}
    assert [u["id"] for u in client.get("/api/options").json()["uploads"]] == [second["id"]]
    again = client.delete(f"/api/primers/{first['id']}")
    assert again.status_code == 404 and again.json()["error"] == f"'{first['id']}': no such upload"
    made = client.post("/api/takes", json={"primer": f"upload:{first['id']}", "seconds": 2})
    assert made.status_code == 400 and "was deleted" in made.json()["error"]


def test_keep_only_flac_halves_the_renders_and_every_player_still_plays(client):
    [take] = make(client, seed=1)
    before = client.get("/api/storage").json()
    assert before["keep"] == "wav" and before["renders"]["wav"] > 0 and before["renders"]["flac"] == 0
    assert before["bytes"] >= before["renders"]["wav"]
    done = wait(client, client.post("/api/storage/flac", json={}).json())
    assert done["state"] == "done" and done["result"]["converted"] == 1
    assert done["result"]["bytes_after"] < 0.7 * done["result"]["bytes_before"]
    after = client.get("/api/storage").json()
    assert after["keep"] == "flac" and after["renders"]["wav"] == 0 and 0 < after["renders"]["flac"] < before["renders"]["wav"]
    row = client.get(f"/api/takes/{take['id']}").json()
    assert row["audio"] == {take["instrument"]: "flac"} and row["renders"] == [take["instrument"]]
    flac = client.get(f"/api/takes/{take['id']}/audio/{take['instrument']}.flac")
    assert flac.status_code == 200 and flac.content[:4] == b"fLaC"
    assert client.get(f"/api/takes/{take['id']}/audio/{take['instrument']}.wav").status_code == 404
    assert client.get(f"/api/takes/{take['id']}/audio/{take['instrument']}.exe").status_code == 404
    [newer] = make(client, seed=2)                                              # and from now on, FLAC alone
    assert client.get(f"/api/takes/{newer['id']}").json()["audio"] == {newer["instrument"]: "flac"}
