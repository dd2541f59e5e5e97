"""The source's flow in real headless Chromium with JavaScript disabled (Tor Browser "Safest")."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.integration.conftest import wait_for_text, wait_until
from tipline.models import Attachment, Tip

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


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
