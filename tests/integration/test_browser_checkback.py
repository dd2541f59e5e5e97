"""A source comes back, in real headless Chromium with JavaScript off, in Spanish and English.

The source sends a tip and reads the receipt passphrase; an editor (another
browser, signed in the real way) replies; the source comes back typing the
passphrase in capitals with extra spaces, reads the reply, sends a message
and a file; the real worker cleans the file under the conversation's pipeline
grant; the editor sees both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.integration.conftest import headless_chromium, wait_for_text, wait_until
from tests.integration.test_browser_staff import in_english, log_in
from tests.triage.helpers import staff_account_create
from tipline.models import Attachment, Conversation, Tip

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPLY = "¿Puede enviarnos el vídeo original? / Can you send the original video?"
SOURCE_MESSAGE = "Aquí está la foto del camión, del 3 de mayo."
WORDS = {
    "es": {"thanks": "Gracias", "sent_file": "Enviaste 1 archivo con este mensaje."},
    "en": {"thanks": "Thank you", "sent_file": "You sent 1 file with this message."},
}


@pytest.fixture(autouse=True)
def visit_cache(settings) -> None:
    """Visits live in the cache (tests/settings.py's dummy cache forgets them at once)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "tipline-checkback-browser",
        }
    }


@pytest.fixture
def editor_browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    driver = headless_chromium(tmp_path / "editor", javascript=False)
    yield driver
    driver.quit()


@pytest.mark.parametrize("language", ["es", "en"])
def test_a_source_comes_back_with_javascript_off(
    live_server,
    real_services,
    browser_without_javascript,
    editor_browser,
    tmp_path: Path,
    language: str,
) -> None:
    account = staff_account_create("ana")
    source = browser_without_javascript
    source.get(f"{live_server.url}/{language}/")
    source.find_element(By.NAME, "note").send_keys("Una nota / a note")
    source.find_element(By.CSS_SELECTOR, "form[enctype] button[type=submit]").click()
    wait_for_text(source, WORDS[language]["thanks"])
    passphrase = source.find_element(By.ID, "receipt-passphrase").text
    assert len(passphrase.split()) >= 7
    tip = Tip.objects.get()

    editor = editor_browser
    in_english(editor)
    editor.get(live_server.url + "/staff/login/")
    log_in(editor, account, account.current_code())
    wait_for_text(editor, tip.reference)
    editor.get(f"{live_server.url}/staff/tips/{tip.reference}/")
    editor.find_element(By.NAME, "reply").send_keys(REPLY)
    editor.find_element(By.CSS_SELECTOR, f"form[action$='/{tip.reference}/reply/'] button").click()
    wait_for_text(editor, "Reply sent")

    source.get(f"{live_server.url}/{language}/")
    source.find_element(By.CSS_SELECTOR, f"a[href='/{language}/come-back/']").click()
    typed = "  " + "   ".join(passphrase.upper().split()) + "  "
    source.find_element(By.NAME, "passphrase").send_keys(typed)
    source.find_element(By.CSS_SELECTOR, "form[action$='/come-back/'] button").click()
    wait_for_text(source, REPLY.split(" / ")[0])
    assert "in_review" not in source.page_source and account.username not in source.page_source

    photo = tmp_path / "camion.txt"
    photo.write_bytes(b"contenido del archivo enviado despues")
    source.find_element(By.NAME, "message").send_keys(SOURCE_MESSAGE)
    source.find_element(By.NAME, "files").send_keys(str(photo))
    source.find_element(By.CSS_SELECTOR, "form[action$='/conversation/'] button").click()
    wait_for_text(source, WORDS[language]["sent_file"])
    later = Attachment.objects.get(tip=tip)
    assert later.sent_later
    wait_until(
        lambda: Attachment.objects.get(pk=later.pk).state == Attachment.State.DONE,
        what="the worker to clean the later file\n" + real_services.log(),
    )
    assert [c for c in source.get_cookies() if "expiry" in c] == []  # nothing outlives the session

    editor.get(f"{live_server.url}/staff/tips/{tip.reference}/")
    wait_for_text(editor, SOURCE_MESSAGE)
    assert "camion.txt" in editor.page_source and "sent later by the source" in editor.page_source
    assert not Conversation.objects.get(tip=tip).unread  # the editor opened it
