"""The studio in a real headless browser: the server, the browser and what the tests look at.

Shared by the browser test modules (`test_studio_browser*.py`). `ambient studio` is started
as a person starts it, on a free loopback port; Debian's chromium runs headless through
chromium-driver. Screenshots go to $AMBIENT_SCREENSHOTS when set (to look at them), else
to the test's tmp folder.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.jack import start_jack, stop_jack

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def jack():
    """A JACK server on its dummy driver, so the live desk has a MIDI system and a sound card."""
    server = start_jack("ambient-test-browser")
    yield dict(os.environ, JACK_DEFAULT_SERVER="ambient-test-browser")
    stop_jack(server)


def start_studio(root, env):
    """`ambient studio` on a free port; (its URL, the process)."""
    port = free_port()
    child = subprocess.Popen([sys.executable, "-m", "ambient", "studio", "--workspace", str(root),
                              "--port", str(port)], stderr=subprocess.PIPE, text=True, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "api/options", timeout=2)
            break
        except OSError:
            assert child.poll() is None, child.stderr.read()
            time.sleep(0.1)
    return url, child


@pytest.fixture(scope="module")
def server(workspace, jack):
    url, child = start_studio(workspace.root, jack)
    yield url
    child.terminate()
    child.wait(timeout=10)


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    """Where the browser saves what a page downloads (so a test can see it arrive)."""
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads):
    assert Path(CHROMIUM).exists() and Path(DRIVER).exists(), \
        "the browser tests need Debian's chromium and chromium-driver (scripts/install-system-packages.sh)"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800",
                 "--autoplay-policy=no-user-gesture-required", "--mute-audio"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = Path(os.environ.get("AMBIENT_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def cards(browser):
    return browser.find_elements(By.CSS_SELECTOR, "#takes .take:not(.deleted)")


def wait_for(browser, condition, seconds=120):
    # a card replaced while we read it (the list re-renders) is looked at again on the next poll
    return WebDriverWait(browser, seconds, poll_frequency=0.2,
                         ignored_exceptions=(StaleElementReferenceException,)).until(lambda b: condition(b))


def audio_duration(browser, card) -> float:
    return browser.execute_async_script("""
        const audio = arguments[0].querySelector('audio'), done = arguments[arguments.length - 1];
        if (audio.readyState >= 1) done(audio.duration);
        else audio.addEventListener('loadedmetadata', () => done(audio.duration), {once: true});""", card)


def take_json(url, card) -> dict:
    import json

    return json.load(urllib.request.urlopen(url + "api/takes/" + card.get_attribute("data-take")))
