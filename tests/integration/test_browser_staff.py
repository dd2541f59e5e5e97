"""The editor's flow in real headless Chromium with JavaScript disabled (the staff pages need none).

An editor made the real way logs in with a TOTP code computed from their
device, finds a tip a source sent to the live server (cleaned by the real
worker, stored on S3), sees its thumbnail, downloads its files and changes its
status. The downloads are compared with what the offline recovery key decrypts.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from PIL import Image
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from tests.conftest import RECOVERY_PASSPHRASE
from tests.http_client import Browser
from tests.integration.conftest import wait_for_text, wait_until
from tests.triage.helpers import (
    TIP_NOTE,
    UNSANITIZED_BYTES,
    StaffAccount,
    jpeg_bytes,
    staff_account_create,
)
from tipline.accounts.session import SESSION_KEY_COOKIE
from tipline.models import Attachment, Tip
from tipline.worker.thumbnails import THUMBNAIL_MAX_SIDE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CAMERA_MAKE = "CanaryCam 9000"  # written into the photo's EXIF; cleaning removes it


def editor_account(username: str = "ana") -> StaffAccount:
    return staff_account_create(username)


def photo_with_camera_metadata() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = CAMERA_MAKE  # Make
    out = io.BytesIO()
    Image.open(io.BytesIO(jpeg_bytes())).save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def code_no_device_accepts(account: StaffAccount) -> str:
    """Six digits that are none of the codes the server would accept right now (with drift)."""
    accepted = {account.current_code(drift=d) for d in range(-3, 4)}
    return next(code for code in ("123456", "654321", "000000") if code not in accepted)


def in_english(driver: webdriver.Chrome) -> None:
    """Staff pages follow the browser's language, whatever the machine's locale: pin it."""
    user_agent = driver.execute_cdp_cmd("Browser.getVersion", {})["userAgent"]
    driver.execute_cdp_cmd(
        "Emulation.setUserAgentOverride", {"userAgent": user_agent, "acceptLanguage": "en"}
    )


def downloads_to(driver: webdriver.Chrome, folder: Path) -> None:
    folder.mkdir()
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)}
    )


def log_in(driver: webdriver.Chrome, account: StaffAccount, code: str) -> None:
    driver.find_element(By.NAME, "username").clear()
    driver.find_element(By.NAME, "username").send_keys(account.username)
    driver.find_element(By.NAME, "password").send_keys(account.password)
    driver.find_element(By.NAME, "code").send_keys(code)
    driver.find_element(By.CSS_SELECTOR, "form[action='/staff/login/'] button").click()


def downloaded(folder: Path, name: str, size: int) -> bytes:
    """Wait for Chromium to finish writing ``name`` (it renames the .crdownload at the end)."""
    target = folder / name
    wait_until(
        lambda: target.exists() and target.stat().st_size == size,
        timeout=60,
        what=f"Chromium to download {name} into {folder}",
    )
    return target.read_bytes()


def file_entry(driver: webdriver.Chrome, name: str) -> WebElement:
    return driver.find_element(
        By.XPATH, f"//li[@class='file'][.//strong[@class='file-name' and text()='{name}']]"
    )


def inbox_row(driver: webdriver.Chrome, reference: str) -> WebElement:
    return driver.find_element(
        By.XPATH, f"//table[contains(@class,'inbox')]//tr[.//a[text()='{reference}']]"
    )


def staff_cookie_names(driver: webdriver.Chrome) -> set[str]:
    return {cookie["name"] for cookie in driver.get_cookies()}


def test_editor_triages_a_tip_with_javascript_off(
    live_server,
    real_services,
    recovery_key,
    browser_without_javascript,
    tmp_path: Path,
    monkeypatch,
) -> None:
    account = editor_account()
    photo = photo_with_camera_metadata()
    assert CAMERA_MAKE.encode() in photo
    sent = Browser(live_server.url).submit_tip(
        note=TIP_NOTE, files=[("harbour.jpg", photo), ("ledger.bin", UNSANITIZED_BYTES)]
    )
    assert sent.status == 200, sent.text
    tip = Tip.objects.get()
    wait_until(
        lambda: {a.state for a in Attachment.objects.filter(tip=tip)} == {Attachment.State.DONE},
        what="the worker to process both files\n" + real_services.log(),
    )
    assert Attachment.objects.get(tip=tip, position=0).thumbnail_blob

    driver = browser_without_javascript
    downloads = tmp_path / "downloads"
    in_english(driver)
    downloads_to(driver, downloads)

    # Not signed in: the staff area sends to the login form.
    driver.get(live_server.url + "/staff/")
    wait_for_text(driver, "Staff login")
    assert driver.current_url == live_server.url + "/staff/login/?next=/staff/"

    log_in(driver, account, account.current_code())
    wait_for_text(driver, "<h1>Inbox</h1>")
    assert driver.current_url == live_server.url + "/staff/"
    assert SESSION_KEY_COOKIE in staff_cookie_names(driver)
    row = inbox_row(driver, tip.reference)
    assert row.find_element(By.CSS_SELECTOR, "td.preview").text == TIP_NOTE
    assert row.find_element(By.CSS_SELECTOR, "span.status").text == "New"
    assert "2 files" in row.text

    row.find_element(By.LINK_TEXT, tip.reference).click()
    wait_for_text(driver, "Internal notes")
    assert driver.current_url == f"{live_server.url}/staff/tips/{tip.reference}/"
    assert TIP_NOTE in driver.find_element(By.CSS_SELECTOR, ".note-text").text

    # The thumbnail was fetched, decrypted and decoded by the browser (the
    # page's own scripts are off; WebDriver's script runs through DevTools).
    thumbnail = file_entry(driver, "harbour.jpg").find_element(By.CSS_SELECTOR, "img.thumbnail")
    loaded = driver.execute_script(
        "const img = arguments[0]; return [img.complete, img.naturalWidth, img.naturalHeight];",
        thumbnail,
    )
    assert loaded == [True, THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE * 3 // 4]
    assert file_entry(driver, "ledger.bin").find_elements(By.CSS_SELECTOR, "img") == []

    # What the offline recovery key decrypts: the reference for both downloads.
    monkeypatch.setenv("TIPLINE_RECOVERY_PASSPHRASE", RECOVERY_PASSPHRASE)
    export = tmp_path / "export"
    call_command("export_tips", "--recovery-key", str(recovery_key.path), "--output", str(export))
    exported = export / tip.reference / "files"
    cleaned_photo = (exported / "harbour.jpg").read_bytes()
    assert CAMERA_MAKE.encode() not in cleaned_photo
    assert (exported / "ledger.bin").read_bytes() == UNSANITIZED_BYTES

    # A cleaned picture downloads straight away: the cleaned bytes, not the source's.
    file_entry(driver, "harbour.jpg").find_element(By.LINK_TEXT, "Download").click()
    assert downloaded(downloads, "harbour.jpg", len(cleaned_photo)) == cleaned_photo
    with Image.open(downloads / "harbour.jpg") as picture:
        assert picture.size == (640, 480)

    # A file that was not cleaned asks first, then downloads unchanged.
    file_entry(driver, "ledger.bin").find_element(By.LINK_TEXT, "Download").click()
    wait_for_text(driver, "I understand, download it")
    assert "ledger.bin" in driver.find_element(By.CSS_SELECTOR, "p.warning").text
    assert not (downloads / "ledger.bin").exists()
    driver.find_element(By.LINK_TEXT, "I understand, download it").click()
    assert downloaded(downloads, "ledger.bin", len(UNSANITIZED_BYTES)) == UNSANITIZED_BYTES
    driver.find_element(By.LINK_TEXT, "Back to the tip").click()
    wait_for_text(driver, "Internal notes")

    # Status, through the plain form.
    status_form = driver.find_element(By.CSS_SELECTOR, f"form[action$='/{tip.reference}/status/']")
    Select(status_form.find_element(By.NAME, "status")).select_by_visible_text("Verified")
    status_form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for_text(driver, "Status changed.")
    assert driver.find_element(By.CSS_SELECTOR, "h1 span.status").text == "Verified"
    tip.refresh_from_db()
    assert tip.status == Tip.Status.VERIFIED

    driver.find_element(By.PARTIAL_LINK_TEXT, "Inbox").click()
    wait_for_text(driver, "<h1>Inbox</h1>")
    assert inbox_row(driver, tip.reference).find_element(By.CSS_SELECTOR, "span.status").text == (
        "Verified"
    )

    # Logging out ends it: the staff area, a tip and a file all send to the login form.
    driver.find_element(By.XPATH, "//form[@action='/staff/logout/']//button").click()
    wait_for_text(driver, "Staff login")
    assert SESSION_KEY_COOKIE not in staff_cookie_names(driver)
    for path in ("/staff/", f"/staff/tips/{tip.reference}/files/1/thumbnail/"):
        driver.get(live_server.url + path)
        wait_for_text(driver, "Staff login")
        assert driver.current_url.startswith(live_server.url + "/staff/login/?next=")


def test_a_wrong_code_does_not_log_in(
    live_server,
    browser_without_javascript,
) -> None:
    account = editor_account()
    driver = browser_without_javascript
    in_english(driver)

    driver.get(live_server.url + "/staff/")
    wait_for_text(driver, "Staff login")
    log_in(driver, account, code_no_device_accepts(account))
    wait_for_text(driver, "That did not work")
    assert driver.find_element(By.CSS_SELECTOR, "p.error[role=alert]").is_displayed()
    assert driver.find_element(By.NAME, "username").get_attribute("value") == account.username
    assert driver.find_element(By.NAME, "password").get_attribute("value") == ""
    assert SESSION_KEY_COOKIE not in staff_cookie_names(driver)
    assert "Log out" not in driver.page_source

    driver.get(live_server.url + "/staff/")
    wait_for_text(driver, "Staff login")
    assert "/staff/login/" in driver.current_url
    assert "That did not work" not in driver.page_source

    # The right code still works afterwards: one mistake does not lock the account.
    log_in(driver, account, account.current_code())
    wait_for_text(driver, "<h1>Inbox</h1>")
    assert "No tips here." in driver.page_source
