"""The studio's page states a person meets, in a real browser at 1280x800 and on a phone (390x844):
an empty studio, a take playing to its end, a continuation beside its parent, a job queued
behind another in the tray, and the pipeline page empty and busy. Each state is checked and
photographed at both sizes ($AMBIENT_SCREENSHOTS=docs/studio keeps the pictures); the tray,
zoom, Play forever's player, the uploads list and keeping only FLAC are checked on the way.
"""

import json
import urllib.request

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from ambient.midi import write_midi
from ambient.notes import Note
from ambient.pipeline import Workspace
from tests.studio_browser import browser, cards, downloads, jack, server, shots, take_json, wait_for  # noqa: F401
from tests.test_pipeline import TINY_TRAINING, melody

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return Workspace.init(tmp_path_factory.mktemp("tour") / "ws", TINY_TRAINING)


def both_sizes(browser, shots, name, settle=None, focus=None):
    """A screenshot at each size, `focus` (a CSS selector) scrolled to the top of the window;
    nothing may scroll sideways on the phone."""
    for size, (w, h) in SIZES.items():
        browser.set_window_size(w, h)
        if settle:
            settle(browser)
        if focus:
            browser.execute_script("document.querySelector(arguments[0]).scrollIntoView({block: 'start'})", focus)
        assert browser.execute_script("return document.documentElement.scrollWidth") <= w, (name, size)
        browser.save_screenshot(str(shots / f"studio-{name}-{size}.png"))
    browser.set_window_size(*SIZES["desktop"])


def jobs(url) -> list[dict]:
    return json.load(urllib.request.urlopen(url + "api/jobs"))["jobs"]


def fill(browser, **values):
    for name, value in values.items():
        field = browser.find_element(By.NAME, name)
        field.clear()
        field.send_keys(str(value))


def in_view(browser, element) -> bool:
    return browser.execute_script("const r = arguments[0].getBoundingClientRect(); "
                                  "return r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth",
                                  element)


def test_an_empty_studio_says_what_to_do_first(server, browser, shots):
    browser.set_window_size(*SIZES["desktop"])
    browser.get(server)
    wait_for(browser, lambda b: len(Select(b.find_element(By.ID, "primer")).options) >= 8)
    # the takes arrive by their own request, after the primers on a cold first start
    empty = wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#takes .empty"), 30)
    assert empty[0].text.startswith("No takes yet.")
    assert not browser.find_element(By.ID, "tray").is_displayed()
    wait_for(browser, lambda b: b.find_element(By.ID, "storage-line").text.startswith("The studio holds"), 30)
    assert not browser.find_element(By.ID, "keep-flac").is_displayed()      # nothing to shrink yet
    both_sizes(browser, shots, "empty")


def test_the_tray_shows_a_running_make_and_one_queued_behind_it_in_view_on_a_phone(server, browser, shots):
    fill(browser, seconds=25)
    Select(browser.find_element(By.ID, "primer")).select_by_value("seed:2")
    browser.find_element(By.ID, "make").click()
    wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#tray-list li.running"), 30)
    browser.find_element(By.ID, "make").click()                         # a second Make waits its turn, visibly
    wait_for(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#tray-list li")) == 2, 30)
    running, queued = browser.find_elements(By.CSS_SELECTOR, "#tray-list li")
    assert running.get_attribute("class") == "running" and running.text.startswith("Make: seed 2, 25 s")
    assert queued.get_attribute("class") == "queued" and "waiting: 1 job ahead" in queued.text
    assert browser.find_element(By.ID, "tray-count").text == "2 jobs"
    assert browser.find_element(By.ID, "make").text == "Make (queues)"
    browser.set_window_size(*SIZES["phone"])
    browser.execute_script("window.scrollTo(0, 0)")
    assert in_view(browser, browser.find_element(By.ID, "tray"))         # progress in view, not below the fold
    both_sizes(browser, shots, "queued")
    queued.find_element(By.CSS_SELECTOR, "button.cancel").click()        # the tray cancels too
    wait_for(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#tray-list li")) == 1, 30)
    wait_for(browser, lambda b: not b.find_element(By.ID, "tray").is_displayed() and cards(b), 180)
    assert [j["state"] for j in jobs(server) if j["kind"] == "make"] == ["cancelled", "done"]   # newest first
    assert browser.find_element(By.ID, "make").text == "Make"


def test_a_take_playing_to_its_end_and_the_roll_zoomed_around_the_playhead(server, browser, shots):
    card = cards(browser)[0]
    roll = card.find_element(By.CSS_SELECTOR, "canvas.roll")

    def near_the_end(b):
        b.execute_async_script("""
            const audio = arguments[0].querySelector('audio'), done = arguments[arguments.length - 1];
            const go = () => { audio.currentTime = audio.duration - 2; audio.play().then(() => setTimeout(done, 400)); };
            if (audio.readyState >= 1) go(); else audio.addEventListener('loadedmetadata', go, {once: true});""",
                               cards(b)[0])

    both_sizes(browser, shots, "playing", settle=near_the_end, focus="#takes .take")
    whole = float(roll.get_attribute("data-span"))
    card.find_element(By.CSS_SELECTOR, "button.zoom-in").click()
    card.find_element(By.CSS_SELECTOR, "button.zoom-in").click()
    start, end = map(float, roll.get_attribute("data-view").split("-"))
    assert end - start == pytest.approx(whole / 4, abs=0.02) and start <= float(
        browser.execute_script("return arguments[0].querySelector('audio').currentTime", card)) <= end
    card.find_element(By.CSS_SELECTOR, "button.zoom-out").click()
    card.find_element(By.CSS_SELECTOR, "button.zoom-out").click()
    card.find_element(By.CSS_SELECTOR, "button.zoom-out").click()        # never wider than the whole take
    assert roll.get_attribute("data-view") == f"0.00-{whole:.2f}"
    browser.execute_script("document.querySelectorAll('audio').forEach((a) => a.pause())")


def test_a_continuation_sits_beside_its_parent_and_names_it(server, browser, shots):
    parent = cards(browser)[0]
    parent_name = take_json(server, parent)["name"]
    fill(browser, seconds=8)
    parent.find_element(By.CSS_SELECTOR, "button.continue").click()
    wait_for(browser, lambda b: len(cards(b)) == 2 and cards(b)[0].find_element(By.TAG_NAME, "audio")
             .get_attribute("src"), 180)
    child = take_json(server, cards(browser)[0])
    assert child["parent"] == take_json(server, cards(browser)[1])["id"]
    assert f"continues {parent_name}" in cards(browser)[0].find_element(By.CSS_SELECTOR, ".meta").text
    both_sizes(browser, shots, "continuation", focus="#takes")


def test_play_forever_shows_what_it_plays_how_long_and_a_volume(server, browser):
    browser.find_element(By.ID, "forever").click()
    wait_for(browser, lambda b: b.find_element(By.ID, "forever-time").text.endswith("heard")
             and b.execute_script("return document.getElementById('forever-player').currentTime") > 1, 60)
    assert browser.find_element(By.ID, "forever-what").text.startswith("Playing forever from seed 2 through ")
    browser.execute_script("const v = document.getElementById('forever-volume'); v.value = 0.3; "
                           "v.dispatchEvent(new Event('input'))")
    assert browser.execute_script("return document.getElementById('forever-player').volume") == pytest.approx(0.3)
    browser.find_element(By.ID, "forever").click()
    assert not browser.find_element(By.ID, "forever-box").is_displayed()
    assert browser.execute_script("return document.getElementById('forever-player').paused") is True


def test_uploads_are_listed_with_their_dates_and_deleted_after_asking(server, browser, tmp_path):
    write_midi(tmp_path / "sketch.mid", [Note(i * 0.5, i * 0.5 + 1.0, 60 + i % 7, 70) for i in range(30)])
    for _ in range(2):                                                   # two uploads of one name
        browser.find_element(By.ID, "primer-file").send_keys(str(tmp_path / "sketch.mid"))
        wait_for(browser, lambda b: not b.find_element(By.ID, "make-status").text, 30)
    wait_for(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#uploads li")) == 2, 30)
    assert browser.find_element(By.CSS_SELECTOR, "#uploads summary").text == "Your uploads (2)"
    browser.find_element(By.CSS_SELECTOR, "#uploads summary").click()
    rows = browser.find_elements(By.CSS_SELECTOR, "#uploads li")
    assert all(r.text.startswith("sketch.mid · midi · 30 notes · ") for r in rows)
    gone = rows[0].get_attribute("data-upload")
    rows[0].find_element(By.CSS_SELECTOR, "button.delete").click()
    browser.switch_to.alert.accept()                                     # delete asks first
    wait_for(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#uploads li")) == 1, 30)
    assert f"upload:{gone}" not in [o.get_attribute("value") for o in Select(browser.find_element(By.ID, "primer")).options]


def test_keep_only_flac_shrinks_the_renders_and_the_takes_still_play(server, browser):
    line = browser.find_element(By.ID, "storage-line")
    assert "WAV" in line.text
    browser.find_element(By.ID, "keep-flac").click()
    wait_for(browser, lambda b: b.find_element(By.ID, "storage-line").text.endswith("new renders are FLAC."), 120)
    assert "WAV" not in browser.find_element(By.ID, "storage-line").text
    card = cards(browser)[0]
    wait_for(browser, lambda b: cards(b)[0].find_element(By.TAG_NAME, "audio").get_attribute("src").endswith(".flac"))
    duration = browser.execute_async_script("""
        const audio = arguments[0].querySelector('audio'), done = arguments[arguments.length - 1];
        if (audio.readyState >= 1) done(audio.duration);
        else audio.addEventListener('loadedmetadata', () => done(audio.duration), {once: true});""", cards(browser)[0])
    assert duration > take_json(server, card)["seconds"]


def test_the_pipeline_page_empty_then_busy(server, browser, shots, tmp_path):
    browser.get(server + "#pipeline")
    wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#sources tr.hint"), 30)
    assert browser.find_element(By.CSS_SELECTOR, "#sources tr.hint").text.startswith("No audio yet.")
    assert browser.find_element(By.CSS_SELECTOR, "#models tr.hint").text.startswith("No model yet")
    browser.find_element(By.ID, "run").click()
    assert browser.find_element(By.ID, "pipeline-error").text == "Nothing to run yet: add audio files first."
    assert not jobs(server) or all(j["kind"] != "pipeline" for j in jobs(server))
    both_sizes(browser, shots, "pipeline-empty")
    melody(tmp_path / "tune.wav", seed=5)
    browser.find_element(By.ID, "source-files").send_keys(str(tmp_path / "tune.wav"))
    wait_for(browser, lambda b: any(r.text.startswith("tune.wav") for r in b.find_elements(By.CSS_SELECTOR,
                                                                                             "#sources tbody tr")), 30)
    browser.find_element(By.ID, "run").click()
    wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#tray-list li.running"), 30)
    assert browser.find_element(By.CSS_SELECTOR, "#tray-list li").text.startswith("Pipeline:")
    wait_for(browser, lambda b: b.find_element(By.CSS_SELECTOR, "#tray-list li .message").text not in ("", "starting"),
             120)                                                        # a stage at work, for the picture
    both_sizes(browser, shots, "pipeline-busy", focus="#ws-body")
    browser.find_element(By.CSS_SELECTOR, "#tray-list li button.cancel").click()
    wait_for(browser, lambda b: not b.find_element(By.ID, "tray").is_displayed(), 60)
