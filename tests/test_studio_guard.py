"""The studio refuses what a foreign web page, a rebinding DNS name or a careless script
can send: each hostile request a 4xx with one line, and nothing made. The test client
raises any server error, so a refusal here is never a traceback in disguise."""

import pytest
from fastapi.testclient import TestClient

from ambient.studio.app import create_app
from ambient.studio.guard import allowed_hosts, refusal
from ambient.studio.jobs import MAX_WAITING
from tests.test_studio_api import JSON, LOCAL, UPLOAD, make, wait

FOREIGN = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(tmp_path / "ws"), base_url=LOCAL) as c:
        yield c


def nothing_made(client):
    assert client.get("/api/takes").json()["takes"] == [] and client.get("/api/jobs").json()["jobs"] == []


@pytest.mark.parametrize("path", ["/api/takes", "/api/primers?filename=x.mid", "/api/pipeline/init",
                                  "/api/pipeline/run"])
def test_a_no_cors_post_from_another_page_is_refused(client, path):
    # what fetch(url, {method: "POST", mode: "no-cors", body}) from another site sends
    planted = client.post(path, content='{"primer": "seed:1", "name": "planted by another origin"}',
                          headers={"Content-Type": "text/plain", **FOREIGN})
    assert planted.status_code == 403 and planted.json()["error"].startswith("refused: a request from another site")
    # an older browser that marks only the Origin, and a script that forgets the type
    assert client.post(path, content="{}", headers={"Content-Type": "text/plain",
                                                    "Origin": "http://evil.example"}).status_code == 403
    untyped = client.post(path, content='{"primer": "seed:1"}', headers={"Content-Type": "text/plain"})
    assert untyped.status_code == 415 and untyped.json()["error"].startswith("send the request as application/")
    nothing_made(client)
    assert not (client.app.state.studio.root / "repos").exists()      # no workspace made either


def test_a_foreign_host_header_is_refused_everywhere(client):
    for method, path in [("GET", "/"), ("GET", "/api/options"), ("POST", "/api/takes")]:
        response = client.request(method, path, headers={"Host": "evil.example:8765", **JSON}, json={})
        assert response.status_code == 400
        assert response.json()["error"] == "refused: Host 'evil.example' is not this studio's address"
    assert client.get("/api/options", headers={"Host": "localhost:8765"}).status_code == 200
    nothing_made(client)


def test_a_foreign_page_cannot_start_an_endless_stream(client):
    response = client.get("/api/stream", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403


@pytest.mark.parametrize("body, error", [
    (b"not json", "the request body is not JSON"),
    (b"", "the request body is empty: send a JSON object"),
    (b"[1, 2]", "the request must be a JSON object"),
    (b'{"seconds": "30"}', "seconds: input should be a valid number (got \"30\")"),
    (b'{"seed": "abc"}', "seed: input should be a valid integer (got \"abc\")"),
    (b'{"seed": 1180591620717411303424}', "seed: input should be less than or equal to 2147483647"),
    (b'{"variations": 1.5}', "variations: input should be a valid integer (got 1.5)"),
    (b'{"temperature": 1e9}', "temperature: input should be less than or equal to 5"),
    (b'{"instrument": "kazoo"}', "kazoo: no such instrument (choose from stratosphere"),
])
def test_a_wrong_type_or_range_is_a_400_naming_the_field(client, body, error):
    response = client.post("/api/takes", content=body, headers=JSON)
    assert response.status_code == 400, response.json()
    assert response.json()["error"].startswith(error), response.json()
    nothing_made(client)


def test_a_take_update_takes_booleans_as_booleans(client):
    [take] = make(client, seconds=2)
    refused = client.patch(f"/api/takes/{take['id']}", json={"starred": "false"})
    assert refused.status_code == 400 and refused.json()["error"].startswith("starred: input should be a valid boolean")
    assert client.get(f"/api/takes/{take['id']}").json()["starred"] is False
    assert client.patch(f"/api/takes/{take['id']}", json={"starred": True}).json()["starred"] is True


def test_get_changes_nothing_and_renders_go_through_the_queue(client):
    [take] = make(client, seconds=2)
    response = client.get(f"/api/takes/{take['id']}/download.mp3?instrument=voyager")
    assert response.status_code == 404
    after = client.get(f"/api/takes/{take['id']}").json()
    assert after["instrument"] == take["instrument"] and after["renders"] == take["renders"]
    assert [j["kind"] for j in client.get("/api/jobs").json()["jobs"]] == ["make"]
    unknown = client.post(f"/api/takes/{take['id']}/render", json={"instrument": "kazoo"})
    assert unknown.status_code == 400 and "kazoo" in unknown.json()["error"]
    odd = client.post(f"/api/takes/{take['id']}/render", json={"instrument": "voyager", "format": "exe"})
    assert odd.status_code == 400 and odd.json()["error"].startswith("format: ")


def test_a_stream_with_a_negative_seed_is_a_400(client):
    response = client.get("/api/stream?seed=-1")
    assert response.status_code == 400 and response.json()["error"].startswith("seed: input should be greater than")


def test_the_queue_is_bounded(client):
    long = client.post("/api/takes", json={"primer": "seed:1", "seconds": 600}).json()
    while client.get(f"/api/jobs/{long['id']}").json()["state"] == "queued":
        pass
    waiting = [client.post("/api/takes", json={"primer": "seed:2", "seconds": 2}).json() for _ in range(MAX_WAITING)]
    refused = client.post("/api/takes", json={"primer": "seed:2", "seconds": 2})
    assert refused.status_code == 429
    assert refused.json()["error"] == f"{MAX_WAITING} jobs are waiting already: let one finish or cancel one"
    for job in [long, *waiting]:
        client.delete(f"/api/jobs/{job['id']}")
    assert wait(client, long)["state"] == "cancelled"


def test_uploads_take_raw_bytes_and_the_same_page_passes(client, tmp_path):
    from tests.test_studio_api import midi_bytes
    from ambient.notes import Note

    body = midi_bytes(tmp_path, [Note(0, 1, 60, 80), Note(1, 2, 64, 80)])
    same = {"Origin": LOCAL, "Sec-Fetch-Site": "same-origin"}
    assert client.post("/api/primers?filename=a.mid", content=body, headers={**UPLOAD, **same}).status_code == 200
    assert client.post("/api/primers?filename=a.mid", content=body, headers=JSON).status_code == 415


def test_hosts_a_studio_answers_to():
    assert allowed_hosts("127.0.0.1") == {"127.0.0.1", "localhost", "::1"}
    assert allowed_hosts("studio.lan") == {"studio.lan"}
    wildcard = TestClient(create_app("/tmp/unused-ws", host="0.0.0.0"), base_url="http://192.168.1.20:8765")
    assert wildcard.get("/api/options").status_code == 200       # any address: a LAN listener, as asked
    assert wildcard.get("/api/options", headers={"Host": "rebind.example"}).status_code == 400
    assert refusal("GET", "/api/options", {"sec-fetch-site": "none"}) is None       # typed in the address bar
    assert refusal("DELETE", "/api/jobs/j1", {"origin": "http://evil.example", "host": "127.0.0.1:8765"})[0] == 403


def test_a_queued_job_says_how_many_are_ahead_of_it(client):
    long = client.post("/api/takes", json={"primer": "seed:1", "seconds": 600}).json()
    second = client.post("/api/takes", json={"primer": "seed:2", "seconds": 2}).json()
    third = client.post("/api/takes", json={"primer": "seed:3", "seconds": 2}).json()
    assert client.get(f"/api/jobs/{third['id']}").json()["message"] == "waiting: 2 jobs ahead"
    client.delete(f"/api/jobs/{second['id']}")
    state = client.get(f"/api/jobs/{third['id']}").json()
    assert state["message"] == "waiting: 1 job ahead" and state["place"] == 1
    for job in (third, long):
        client.delete(f"/api/jobs/{job['id']}")
    assert wait(client, long)["state"] == "cancelled"


def test_running_an_empty_pipeline_says_what_to_do_first(client):
    assert client.post("/api/pipeline/init", headers=JSON).status_code == 200
    response = client.post("/api/pipeline/run", headers=JSON)
    assert response.status_code == 400
    assert response.json()["error"] == "nothing to run yet: add audio files to the collection first"
    assert client.get("/api/jobs").json()["jobs"] == []
