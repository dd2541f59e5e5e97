"""Issue 16: after a refused submit the error is the first thing the source sees, in Chromium.

With JavaScript on, the page's script focuses the error summary; with it off
(Tor Browser "Safest"), the summary is at the top of the page the browser
opens, inside a phone's first screen.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.integration.conftest import wait_for_text

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE_HEIGHT = 844  # the browsers of tests/integration/conftest.py are sized like a phone


def send_empty_form(driver, url: str) -> None:
    driver.get(url + "/en/")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for_text(driver, "Write a note, add a link or attach a file")


def summary_top(driver) -> float:
    return driver.execute_script(
        "return document.getElementById('error-summary').getBoundingClientRect().top;"
    )


def test_the_error_is_focused_with_javascript_on(
    live_server, open_tipline, browser_with_javascript
) -> None:
    driver = browser_with_javascript
    send_empty_form(driver, live_server.url)
    assert driver.title.startswith("Error: ")
    focused = driver.execute_script("return document.activeElement && document.activeElement.id;")
    assert focused == "error-summary"
    assert 0 <= summary_top(driver) < PHONE_HEIGHT / 2


def test_the_error_opens_the_page_with_javascript_off(
    live_server, open_tipline, browser_without_javascript
) -> None:
    driver = browser_without_javascript
    send_empty_form(driver, live_server.url)
    assert driver.title.startswith("Error: ")
    assert driver.execute_script("return window.scrollY;") == 0
    assert 0 <= summary_top(driver) < PHONE_HEIGHT / 2
