"""The source's flow in real headless Chromium with JavaScript disabled (Tor Browser "Safest")."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.integration.conftest import wait_until
from tipline.models import Attachment, Tip

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def wait_for_text(driver: webdriver.Chrome, text: str) -> None:
    """A click starts a navigation without waiting for it: wait for the new page."""
    WebDriverWait(driver, 60).until(lambda d: text in d.page_source)


@pytest.fixture
def browser_without_javascript(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: .ci/run installs the Debian packages")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=390,844",  # a phone
    ):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs", {"profile.managed_default_content_settings.javascript": 2}
    )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


def test_source_sends_a_tip_with_javascript_off(
    live_server, real_services, browser_without_javascript, tmp_path: Path
) -> None:
    driver = browser_without_javascript
    photo = tmp_path / "foto.txt"
    photo.write_bytes(b"contenido del archivo")

    driver.get(live_server.url + "/")
    assert "Todo 100% anónimo" in driver.page_source
    driver.find_element(By.LINK_TEXT, "English").click()
    wait_for_text(driver, "All 100% anonymous")
    assert driver.current_url.endswith("/en/")
    driver.find_element(By.LINK_TEXT, "español").click()
    wait_for_text(driver, "Todo 100% anónimo")

    driver.find_element(By.NAME, "note").send_keys("Una nota enviada sin JavaScript")
    driver.find_element(By.NAME, "links").send_keys("https://example.org/prueba")
    driver.find_element(By.NAME, "files").send_keys(str(photo))
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    wait_for_text(driver, "Gracias")
    assert "Una nota enviada" not in driver.page_source
    tip = Tip.objects.get()
    wait_until(
        lambda: Attachment.objects.get(tip=tip).state == Attachment.State.DONE,
        what="the worker to clean the file",
    )
    assert [c for c in driver.get_cookies() if "expiry" in c] == []  # nothing outlives the session


def test_refused_submission_keeps_the_note_with_javascript_off(
    live_server, real_services, browser_without_javascript
) -> None:
    driver = browser_without_javascript
    driver.get(live_server.url + "/en/")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for_text(driver, "Write a note, add a link or attach a file")
    assert Tip.objects.count() == 0
