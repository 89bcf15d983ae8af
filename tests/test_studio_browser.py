"""The studio in a real headless browser (Debian's chromium through chromium-driver).

One server (`ambient studio`, as a person starts it) and one browser for the module;
each test does what a person would and checks what they would see or hear. Screenshots
go to $AMBIENT_SCREENSHOTS when set (to look at them), else to the test's tmp folder.
"""

import time
import urllib.request

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from ambient.midi import write_midi
from ambient.notes import Note
from ambient.pipeline import Workspace, run
from ambient.pipeline.sources import add
from ambient.pipeline.stages import standard_stages
from ambient.render import preset
from tests.jack import left_sounding, reader, received
from tests.studio_browser import (audio_duration, browser, cards, downloads, free_port, jack, server, shots,  # noqa: F401
                                  take_json, wait_for)
from tests.test_pipeline import TINY_TRAINING, melody


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("studio")
    ws = Workspace.init(root / "ws", TINY_TRAINING)
    melody(root / "good.wav", seed=3)
    add(ws, [root / "good.wav"])
    (ws.repo("audio") / "broken.mp3").write_bytes(b"ID3" + b"\x00" * 300)
    run(ws, standard_stages(ws.params)[:1], executor="serial", retries=1)
    return ws


def test_make_a_take_from_a_seed_hear_it_see_it_and_download_it(server, browser, shots):
    browser.set_window_size(1280, 800)
    browser.get(server)
    wait_for(browser, lambda b: len(Select(b.find_element(By.ID, "primer")).options) >= 8)
    if not cards(browser):   # a studio with no takes says what to do first
        assert browser.find_element(By.CSS_SELECTOR, "#takes .empty").text.startswith("No takes yet.")
    browser.save_screenshot(str(shots / "make-empty.png"))
    Select(browser.find_element(By.ID, "primer")).select_by_value("seed:1")
    seconds = browser.find_element(By.NAME, "seconds")
    seconds.clear()
    seconds.send_keys("10")
    browser.find_element(By.ID, "make").click()
    wait_for(browser, lambda b: cards(b) and cards(b)[0].find_element(By.TAG_NAME, "audio").get_attribute("src"))
    card = cards(browser)[0]
    take = take_json(server, card)
    assert take["seconds"] >= take["primer_end"] + 9.5
    assert audio_duration(browser, card) == pytest.approx(take["seconds"] + preset("stratosphere").tail, abs=0.1)
    played = browser.execute_async_script("""
        const audio = arguments[0].querySelector('audio'), done = arguments[arguments.length - 1];
        audio.play().then(() => setTimeout(() => { audio.pause(); done(audio.currentTime); }, 700), e => done(-1));""", card)
    assert played > 0.2                                                           # it plays, and the clock moves
    drawn = int(card.find_element(By.CSS_SELECTOR, "canvas.roll").get_attribute("data-drawn"))
    assert drawn == len(take["notes"])
    colours = browser.execute_script("""
        const c = arguments[0].querySelector('canvas'), g = c.getContext('2d');
        const px = g.getImageData(0, 0, c.width, c.height).data; let primer = 0, fresh = 0;
        for (let i = 0; i < px.length; i += 4) { const [r, g, b] = [px[i], px[i+1], px[i+2]];
          if (b > r + 40 && b > 90) primer++; if (r > b + 60 && g > b + 30) fresh++; }
        return [primer, fresh];""", card)
    assert colours[0] > 50 and colours[1] > 50                                   # primer blue, continuation amber
    link = card.find_element(By.CSS_SELECTOR, "a.dl[data-fmt=mid]").get_attribute("href")
    assert urllib.request.urlopen(link).read()[:4] == b"MThd"
    browser.save_screenshot(str(shots / "make-take.png"))


def test_the_piano_roll_has_time_and_pitch_axes_and_a_playhead_to_the_end_of_the_audio(server, browser, shots):
    import re

    browser.get(server)
    wait_for(browser, lambda b: cards(b) and cards(b)[0].find_element(By.TAG_NAME, "audio").get_attribute("src"))
    card = cards(browser)[0]
    duration = audio_duration(browser, card)
    browser.execute_async_script("""
        const audio = arguments[0].querySelector('audio'), done = arguments[arguments.length - 1];
        audio.addEventListener('seeked', () => setTimeout(done, 100), {once: true});
        audio.currentTime = audio.duration - 0.3;""", card)
    roll = card.find_element(By.CSS_SELECTOR, "canvas.roll")
    assert float(roll.get_attribute("data-span")) == pytest.approx(duration, abs=0.05)   # the reverb's tail too
    width = browser.execute_script("return arguments[0].clientWidth", roll)
    assert 0.95 * width < float(roll.get_attribute("data-playhead-x")) <= width          # still on the canvas
    assert int(roll.get_attribute("data-tick")) in (1, 2, 5, 10, 15, 30, 60, 120)
    pitches = roll.get_attribute("data-pitches").split()
    assert pitches and all(re.fullmatch(r"[A-G][#b]?-?\d", p) for p in pitches)
    roll.screenshot(str(shots / "piano-roll-playhead-at-end.png"))


def test_switching_instrument_renders_again_without_a_new_take(server, browser):
    card = cards(browser)[0]
    before = take_json(server, card)
    Select(card.find_element(By.CSS_SELECTOR, "select.instrument")).select_by_value("underwater-temple")
    card.find_element(By.CSS_SELECTOR, "button.rerender").click()
    wait_for(browser, lambda b: "underwater-temple" in cards(b)[0].find_element(By.TAG_NAME, "audio").get_attribute("src"))
    after = take_json(server, card)
    assert after["renders"] == ["stratosphere", "underwater-temple"] and after["notes"] == before["notes"]
    assert len(cards(browser)) == 1
    assert audio_duration(browser, card) == pytest.approx(after["seconds"] + preset("underwater-temple").tail, abs=0.1)


def test_upload_a_midi_make_a_take_and_continue_it(server, browser, tmp_path, shots):
    notes = [Note(i * 0.6, i * 0.6 + 1.2, [57, 60, 64, 67, 69][i % 5], 64) for i in range(30)]
    write_midi(tmp_path / "my primer.mid", notes)
    browser.find_element(By.ID, "primer-file").send_keys(str(tmp_path / "my primer.mid"))
    wait_for(browser, lambda b: Select(b.find_element(By.ID, "primer")).first_selected_option
             .get_attribute("value").startswith("upload:"), 30)
    browser.find_element(By.ID, "make").click()
    wait_for(browser, lambda b: len(cards(b)) == 2 and cards(b)[0].find_element(By.TAG_NAME, "audio").get_attribute("src"))
    first = take_json(server, cards(browser)[0])
    assert first["primer"] == "my primer.mid"
    cards(browser)[0].find_element(By.CSS_SELECTOR, "button.continue").click()
    wait_for(browser, lambda b: len(cards(b)) == 3 and cards(b)[0].find_element(By.TAG_NAME, "audio").get_attribute("src"))
    longer = take_json(server, cards(browser)[0])
    assert longer["parent"] == first["id"] and longer["notes"][:len(first["notes"])] == first["notes"]
    browser.save_screenshot(str(shots / "make-three-takes.png"))
    browser.set_window_size(390, 844)                                             # a phone
    browser.refresh()
    wait_for(browser, lambda b: len(cards(b)) == 3)
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390                                                           # nothing sideways to scroll
    browser.save_screenshot(str(shots / "make-phone.png"))
    browser.set_window_size(1280, 800)


def test_a_bad_upload_shows_its_line_in_the_page(server, browser, tmp_path):
    (tmp_path / "notes.mid").write_text("not midi at all")
    browser.find_element(By.ID, "primer-file").send_keys(str(tmp_path / "notes.mid"))
    wait_for(browser, lambda b: b.find_element(By.ID, "make-error").text, 30)
    assert browser.find_element(By.ID, "make-error").text == "notes.mid: not a MIDI file (no MThd header)"


def test_the_pipeline_page_shows_a_failed_datum_and_its_error(server, browser, shots):
    browser.get(server + "#pipeline")
    wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#failures .failure"), 30)
    failure = browser.find_element(By.CSS_SELECTOR, "#failures .failure")
    assert "broken.mp3" in failure.text and "decode" in failure.text
    failure.find_element(By.TAG_NAME, "button").click()
    wait_for(browser, lambda b: b.find_element(By.CSS_SELECTOR, "#failures pre").is_displayed(), 10)
    rows = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#sources tbody tr")]
    assert any(r.startswith("broken.mp3") and "failed" in r for r in rows) and any(r.startswith("good.wav") for r in rows)
    browser.save_screenshot(str(shots / "pipeline.png"))


def test_play_forever_plays_until_stopped(server, browser):
    browser.get(server)
    wait_for(browser, lambda b: len(Select(b.find_element(By.ID, "primer")).options) >= 8)
    browser.find_element(By.ID, "forever").click()
    wait_for(browser, lambda b: b.execute_script("return document.getElementById('forever-player').currentTime") > 1.5, 60)
    assert browser.find_element(By.ID, "forever").text == "Stop"
    browser.find_element(By.ID, "forever").click()
    assert browser.execute_script("return document.getElementById('forever-player').paused") is True
    assert browser.find_element(By.ID, "forever").text == "Play forever"


def test_a_download_in_another_format_renders_through_the_queue_then_arrives(server, browser, downloads):
    browser.get(server)
    wait_for(browser, lambda b: cards(b))
    card = cards(browser)[0]
    take = take_json(server, card)
    mp3 = card.find_element(By.CSS_SELECTOR, "a.dl[data-fmt=mp3]")
    mp3.click()   # the page asks for the render as a job, then follows the link
    wait_for(browser, lambda b: any(j["kind"] == "render" and j["label"].endswith("(mp3)") and j["state"] == "done"
                                    for j in __import__("json").load(urllib.request.urlopen(server + "api/jobs"))["jobs"]))
    # the page follows the link once it sees the job done: wait for the file itself, so no later
    # test's navigation races that follow (a late one cancels the other page's load)
    arrived = wait_for(browser, lambda b: list(downloads.glob("*.mp3")), 60)   # named so once complete
    data = arrived[0].read_bytes()
    assert data[:3] == b"ID3" or data[:2] == b"\xff\xfb"
    assert take_json(server, card)["instrument"] == take["instrument"]


def test_a_foreign_page_cannot_make_a_take_or_start_a_stream(server, browser, tmp_path):
    import http.server
    import json
    import threading

    before = json.load(urllib.request.urlopen(server + "api/takes"))["takes"]
    (tmp_path / "evil.html").write_text(f"""<!doctype html><body><audio id=a src="{server}api/stream" autoplay></audio>
<script>
window.outcome = Promise.allSettled([
  fetch("{server}api/takes", {{method: "POST", mode: "no-cors", headers: {{"Content-Type": "text/plain"}},
        body: JSON.stringify({{primer: "seed:1", name: "planted by another origin"}})}}),
  fetch("{server}api/takes", {{method: "POST", headers: {{"Content-Type": "application/json"}},
        body: JSON.stringify({{primer: "seed:1"}})}}),
  fetch("{server}api/pipeline/run", {{method: "POST", mode: "no-cors"}}),
]).then((r) => r.map((x) => x.status));
</script></body>""")
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path))  # noqa: E731
    foreign = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=foreign.serve_forever, daemon=True).start()
    try:
        browser.get(f"http://localhost:{foreign.server_port}/evil.html")   # another origin (name and port)
        assert browser.execute_script("return typeof window.outcome") == "object", \
            f"the foreign page did not load: the browser shows {browser.current_url}"
        outcome = browser.execute_async_script("window.outcome.then(arguments[arguments.length - 1])")
        assert outcome == ["fulfilled", "rejected", "fulfilled"]           # opaque answers; the JSON one never left
        time.sleep(1.0)
        assert browser.execute_script("return document.getElementById('a').currentTime") == 0
    finally:
        foreign.shutdown()
    after = json.load(urllib.request.urlopen(server + "api/takes"))["takes"]
    assert after == before
    jobs = json.load(urllib.request.urlopen(server + "api/jobs"))["jobs"]
    assert not any(j["kind"] == "pipeline" for j in jobs) and all("planted" not in j["label"] for j in jobs)


def test_delete_a_take_then_undo_brings_its_card_back(server, browser):
    browser.get(server)
    wait_for(browser, lambda b: cards(b))
    before = [c.get_attribute("data-take") for c in cards(browser)]
    cards(browser)[0].find_element(By.CSS_SELECTOR, "button.delete").click()
    wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#takes .take.deleted"), 10)
    assert browser.find_element(By.CSS_SELECTOR, "#takes .take.deleted span").text.startswith("Deleted “")
    assert [c.get_attribute("data-take") for c in cards(browser)] == before[1:]
    browser.find_element(By.CSS_SELECTOR, "#takes .take.deleted button.undo").click()
    wait_for(browser, lambda b: [c.get_attribute("data-take") for c in cards(b)] == before, 30)
    assert not browser.find_elements(By.CSS_SELECTOR, "#takes .take.deleted")


def test_a_take_whose_midi_is_damaged_loses_its_roll_not_the_list(server, browser, workspace, shots):
    browser.get(server)
    wait_for(browser, lambda b: len(cards(b)) >= 2)
    before = [c.get_attribute("data-take") for c in cards(browser)]
    midi = workspace.root / "studio" / "takes" / before[-1] / "take.mid"
    kept = midi.read_bytes()
    midi.write_bytes(b"not a MIDI file")
    try:
        browser.refresh()
        wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#takes .roll-error"), 30)
        assert [c.get_attribute("data-take") for c in cards(browser)] == before
        *whole, broken = cards(browser)
        assert broken.find_element(By.CSS_SELECTOR, ".roll-error").text.startswith("No piano roll: ")
        assert f"takes/{before[-1]}/take.mid: not a MIDI file" in broken.text
        assert str(workspace.root) not in broken.text                   # the page never learns the server's paths
        assert not broken.find_elements(By.CSS_SELECTOR, "canvas.roll, .zoom")
        assert all(c.find_elements(By.CSS_SELECTOR, "canvas.roll") for c in whole)
        browser.execute_script("arguments[0].scrollIntoView()", broken)
        browser.save_screenshot(str(shots / "damaged-take.png"))
    finally:
        midi.write_bytes(kept)


def test_continue_keeps_the_cards_instrument_and_leaves_the_form_alone(server, browser):
    browser.get(server)
    wait_for(browser, lambda b: cards(b) and len(Select(b.find_element(By.ID, "primer")).options) >= 8)
    form_primer = Select(browser.find_element(By.ID, "primer")).first_selected_option.get_attribute("value")
    form_instrument = Select(browser.find_element(By.NAME, "instrument")).first_selected_option.get_attribute("value")
    before = len(cards(browser))
    card = cards(browser)[0]
    parent = card.get_attribute("data-take")
    choice = "voyager" if form_instrument != "voyager" else "deterioration"
    Select(card.find_element(By.CSS_SELECTOR, "select.instrument")).select_by_value(choice)
    card.find_element(By.CSS_SELECTOR, "button.continue").click()
    wait_for(browser, lambda b: len(cards(b)) == before + 1 and cards(b)[0].find_element(By.TAG_NAME, "audio")
             .get_attribute("src"))
    made = take_json(server, cards(browser)[0])
    assert made["parent"] == parent and made["instrument"] == choice
    assert Select(browser.find_element(By.ID, "primer")).first_selected_option.get_attribute("value") == form_primer


def test_a_reload_keeps_what_the_form_said(server, browser):
    browser.get(server)
    wait_for(browser, lambda b: len(Select(b.find_element(By.ID, "primer")).options) >= 8)
    seconds = browser.find_element(By.NAME, "seconds")
    seconds.clear()
    seconds.send_keys("17")
    Select(browser.find_element(By.ID, "instrument")).select_by_value("underwater-temple")
    browser.refresh()
    wait_for(browser, lambda b: len(Select(b.find_element(By.ID, "primer")).options) >= 8)
    assert browser.find_element(By.NAME, "seconds").get_attribute("value") == "17"
    assert Select(browser.find_element(By.ID, "instrument")).first_selected_option.get_attribute("value") == \
        "underwater-temple"
    browser.execute_script("localStorage.clear()")


def test_play_live_to_a_new_midi_port_turn_the_temperature_and_stop(server, browser, jack, tmp_path, shots):
    browser.get(server)
    to = Select(wait_for(browser, lambda b: b.find_element(By.ID, "live-to")))
    wait_for(browser, lambda b: len(to.options) >= 2)
    assert [o.text for o in to.options][:2] == ["this computer", "new MIDI port ambient:out"]
    to.select_by_visible_text("new MIDI port ambient:out")
    browser.find_element(By.ID, "live").click()
    line = browser.find_element(By.ID, "live-state")
    wait_for(browser, lambda b: line.text.startswith("Playing live to ambient:out"), 60)
    listening = reader(jack, "ambient:out", tmp_path / "heard.jsonl")
    temperature = browser.find_element(By.NAME, "temperature")
    temperature.clear()
    temperature.send_keys("0.7", Keys.TAB)
    wait_for(browser, lambda b: line.text == "Now temperature 0.7.", 30)
    wait_for(browser, lambda b: len(received(tmp_path / "heard.jsonl")) >= 4, 60)
    browser.save_screenshot(str(shots / "live-playing.png"))
    browser.find_element(By.ID, "live").click()
    wait_for(browser, lambda b: b.find_element(By.ID, "live").text == "Play live", 30)
    time.sleep(0.3)
    listening.kill()
    assert left_sounding(received(tmp_path / "heard.jsonl")) == set()
    assert line.text == ""
