"""Accessibility as a gate: axe-core and non-text contrast on every page, with screenshots.

Every source and staff page, in Spanish and English, with JavaScript on and
off, at 390x844 (a phone) and 1366x900 (a laptop), is checked by axe-core 4
at WCAG 2.2 AA, and every field's and button's border and focus outline is
measured against what is behind it (WCAG 1.4.11, which axe does not check).
Any violation fails the test; the failure lists them all (page, rule,
elements). Each page is photographed whole into the run's screenshot folder,
printed at the end of the run (tests/integration/a11y.py).

One live server and one Chromium per JavaScript state for the module: the
window is resized, not restarted. The pages are reached the way people reach
them: a tip sent through the form, an editor signing in with the code of an
authenticator, a newcomer enrolling their own.

``test_every_page_route_is_in_the_gate`` (no browser) fails when a route that
shows a page is added without a place here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.contrast import contrast_ratio
from tests.http_client import Browser
from tests.integration.a11y import Gate, opaque_over, page_scripts_ran, scripts_off, scripts_on
from tests.integration.conftest import headless_chromium, wait_until
from tests.integration.test_browser_staff import code_no_device_accepts, log_in
from tests.route_samples import route_filled
from tests.security._support import site_routes
from tests.triage.helpers import (
    EDITOR_PASSWORD,
    TIP_NOTE,
    UNSANITIZED_BYTES,
    StaffAccount,
    jpeg_bytes,
    signed_in_client,
    staff_account_create,
    totp_code,
)
from tipline.crypto import DecryptionError
from tipline.intake import form_token
from tipline.models import Attachment, RecipientKey, Tip
from tipline.setup.token import setup_token_issue
from tipline.triage.views import auth as auth_views
from tipline.triage.views import files as file_views

LANGUAGES = ("es", "en")
NEWCOMER_PASSWORD = "the newcomer's own long password 7"

# Every route that shows a page, and the side whose test reaches it. A route
# added to the URL conf must land here or in NOT_PAGES, or
# test_every_page_route_is_in_the_gate fails.
PAGE_ROUTES = {
    "source": {
        "intake:landing",  # also: closed, refused (the landing shown again)
        "intake:submit",  # received, already received, refused
        "intake:come_back",
        "intake:conversation",  # also: visit over
    },
    "staff": {
        "staff:login",
        "staff:enrol",  # the enrolment, and its end (backup codes)
        "staff:inbox",
        "staff:tip",
        "staff:file_download",  # the warning before a file that was not cleaned
        "staff:editors",
        "staff:editor_create",  # the form, and the created account's sign-in code
        "staff:editor_second_factor_reset",  # the new sign-in code
        "staff:audit",
        "staff:retention",
        "staff:recovery_key",
        "staff:password",
    },
    "setup": {"setup:setup", "setup:done"},
}
# Routes that never answer a GET with a page of their own: what each answers instead.
NOT_PAGES = {
    "root": "redirects to the source form in the browser's language",
    "intake:leave": "POST only; ends the visit and redirects",
    "staff:logout": "POST only",
    "staff:bulk_status": "POST only",
    "staff:flood_discard": "POST only",
    "staff:editor_deactivate": "POST only",
    "staff:editor_grant_mine": "POST only",
    "staff:tip_status": "POST only",
    "staff:tip_assignee": "POST only",
    "staff:tip_tags": "POST only",
    "staff:tip_note": "POST only",
    "staff:tip_grant": "POST only",
    "staff:tip_revoke": "POST only",
    "staff:tip_revocation_lift": "POST only",
    "staff:tip_legal_hold": "POST only",
    "staff:tip_reply": "POST only",
    "staff:tip_reply_delete": "POST only",
    "staff:tip_close": "POST only",
    "staff:file_preview": "a cleaned picture (image/*)",
    "staff:file_thumbnail": "a JPEG",
    "staff:file_safe_page": "a JPEG",
    "staff:file_safe_pdf": "a PDF",
    "setup:key_file": "POST only; the sealed recovery key file",
}
# --- The route list (no browser) -------------------------------------------------------------


def test_every_page_route_is_in_the_gate() -> None:
    names = {route.name for route in site_routes()}
    listed = set().union(*PAGE_ROUTES.values())
    assert not listed & NOT_PAGES.keys()
    unplaced = names - listed - NOT_PAGES.keys()
    assert not unplaced, (
        f"routes without a place in the accessibility gate: {sorted(unplaced)}; visit their page "
        "in tests/integration/test_accessibility.py (PAGE_ROUTES) or say in NOT_PAGES why not"
    )
    assert not (listed | NOT_PAGES.keys()) - names, "the gate lists routes that are gone"


@pytest.mark.django_db
def test_the_routes_said_to_be_post_only_refuse_a_get() -> None:
    """NOT_PAGES is not a way around the gate: a route said to be POST only answers GET with 405."""
    client = signed_in_client(staff_account_create("ana", admin=True))
    for route in site_routes():
        if NOT_PAGES.get(route.name, "").startswith("POST only"):
            url = route_filled(route.route)
            assert client.get(url).status_code == 405, url


def test_the_contrast_helper_measures_as_wcag_does() -> None:
    assert contrast_ratio("#000", "#fff") == pytest.approx(21)
    assert contrast_ratio("rgb(118, 118, 118)", "rgb(255, 255, 255)") == pytest.approx(4.54, 0.01)
    assert contrast_ratio("#dcd9d0", "#ffffff") < 1.5  # the field borders of issue #16
    # A half-transparent border is seen mixed with what is behind it.
    assert opaque_over("rgba(0, 0, 0, 0.5)", "rgb(255, 255, 255)") == "rgb(128, 128, 128)"


# --- Browsers and data ----------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["js", "nojs"])
def gate_browser(request, tmp_path_factory) -> Iterator[tuple[webdriver.Chrome, str]]:
    """One Chromium per JavaScript state for the whole module.

    Without JavaScript, the page's own scripts are turned off through DevTools
    (``scripts_off``), not the browser's preference: the preference also stops
    axe-core's timers, while DevTools lets WebDriver's scripts run as a source's
    browser would never let the page's."""
    scripts = request.param
    driver = headless_chromium(tmp_path_factory.mktemp(f"a11y-{scripts}"), javascript=True)
    if scripts == "nojs":
        scripts_off(driver)
    assert page_scripts_ran(driver) == (scripts == "js"), "the browser's JavaScript state"
    yield driver, scripts
    driver.quit()


@pytest.fixture
def gate(gate_browser) -> Iterator[Gate]:
    driver, scripts = gate_browser
    driver.delete_all_cookies()
    yield Gate(driver, scripts)
    driver.delete_all_cookies()


@pytest.fixture
def visit_cache(settings) -> None:
    """Used forms and source visits live in the cache (tests/settings.py's dummy cache forgets)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "tipline-accessibility",
        }
    }


def browser_language(driver: webdriver.Chrome, code: str) -> None:
    """Staff pages follow the browser's language: ask for ``code``."""
    user_agent = driver.execute_cdp_cmd("Browser.getVersion", {})["userAgent"]
    driver.execute_cdp_cmd(
        "Emulation.setUserAgentOverride", {"userAgent": user_agent, "acceptLanguage": code}
    )


def open_page(driver: webdriver.Chrome, url: str) -> None:
    driver.get(url)
    WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.TAG_NAME, "main"))


def submit(driver: webdriver.Chrome, form_selector: str) -> None:
    """Press the form's submit button and wait for the next page."""
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, f"{form_selector} button[type=submit]").click()
    WebDriverWait(driver, 60).until(lambda d: d.find_element(By.TAG_NAME, "html") != old)
    WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.TAG_NAME, "main"))


def spoil_csrf_token(driver: webdriver.Chrome, form_selector: str) -> None:
    """What a stale or forged form carries: a CSRF token that is not the cookie's."""
    with scripts_on(driver):
        driver.execute_script(
            "document.querySelector(arguments[0] + ' [name=csrfmiddlewaretoken]').value = "
            "'x'.repeat(64)",
            form_selector,
        )


# --- The gate itself -----------------------------------------------------------------------------

# The landing page put back as issue #16 found it, plus the faults found elsewhere:
# field borders #dcd9d0, the focus ring #e0a800, help texts named by ids that do
# not exist, an id twice, a line wider than a phone, and an image without words.
AS_FOUND = """
const note = document.querySelector('[name=note]');
note.style.borderColor = '#dcd9d0';
note.style.outlineColor = '#e0a800';
note.setAttribute('aria-describedby', 'note-help-that-is-gone');
const twin = document.createElement('span');
twin.id = note.id;
document.querySelector('main').append(twin);
const wide = document.createElement('pre');
wide.textContent = 'a line no phone can show whole '.repeat(4);
document.querySelector('main').append(wide);
document.querySelector('main').append(document.createElement('img'));
"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_gate_reports_what_issue_16_found(live_server, recovery_key, gate: Gate) -> None:
    driver = gate.driver
    open_page(driver, f"{live_server.url}/en/")
    with scripts_on(driver):
        driver.execute_script(AS_FOUND)
    gate.check("selftest", "landing-as-found", "en", screenshot=False)
    found = "\n".join(gate.findings)
    for expected in (
        "textarea#id_note[name=note]: border rgb(220, 217, 208) on rgb(255, 255, 255) is 1.4",
        "textarea#id_note[name=note]: focus outline rgb(224, 168, 0) on rgb(255, 255, 255) is 2.15",
        'aria-describedby="note-help-that-is-gone", which is no element',
        'id "id_note" is used 2 times',
        "px wide in a 390 px window",
        "axe image-alt [critical]",
    ):
        assert expected in found, found
    assert "px wide in a 1366 px window" not in found  # the line fits a laptop
    with pytest.raises(AssertionError, match="accessibility finding"):
        gate.assert_clean()


# --- The source's pages ---------------------------------------------------------------------------


LANDING_FORM = "form[enctype]"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_source_pages_pass_the_gate(
    live_server, real_services, visit_cache, gate: Gate, tmp_path: Path
) -> None:
    driver, url = gate.driver, live_server.url
    photo, archive = tmp_path / "foto.jpg", tmp_path / "archivo.bin"
    photo.write_bytes(jpeg_bytes())
    archive.write_bytes(UNSANITIZED_BYTES)
    for language in LANGUAGES:
        closed_page_check(gate, url, language)
        open_page(driver, f"{url}/{language}/")
        gate.check("source", "landing", language)
        submit(driver, LANDING_FORM)  # empty: refused
        gate.check("source", "refused", language)

        open_page(driver, f"{url}/{language}/")
        used_token = driver.find_element(By.NAME, form_token.FIELD).get_attribute("value")
        driver.find_element(By.NAME, "note").send_keys(TIP_NOTE)
        driver.find_element(By.NAME, "files").send_keys(f"{photo}\n{archive}")
        submit(driver, LANDING_FORM)
        passphrase = driver.find_element(By.ID, "receipt-passphrase").text
        gate.check("source", "received", language)
        already_received_check(gate, url, language, used_token)

        come_back_checks(gate, url, language, passphrase)
        open_page(driver, f"{url}/{language}/no-such-page/")
        gate.check("source", "404", language)
    assert gate.routes >= PAGE_ROUTES["source"], gate.routes
    gate.assert_clean()


def closed_page_check(gate: Gate, url: str, language: str) -> None:
    """Nobody on staff and no recovery key yet: the tip line is not open."""
    readers = RecipientKey.objects.filter(
        active=True, kind__in=[RecipientKey.Kind.RECOVERY, RecipientKey.Kind.EDITOR]
    )
    closed = list(readers.values_list("pk", flat=True))
    readers.update(active=False)
    try:
        open_page(gate.driver, f"{url}/{language}/")
        gate.check("source", "closed", language)
    finally:
        RecipientKey.objects.filter(pk__in=closed).update(active=True)


def already_received_check(gate: Gate, url: str, language: str, used_token: str) -> None:
    """The same form sent again (a reload of the confirmation, a restored tab)."""
    driver = gate.driver
    open_page(driver, f"{url}/{language}/")
    with scripts_on(driver):
        driver.execute_script(
            "document.querySelector('[name=' + arguments[0] + ']').value = arguments[1]",
            form_token.FIELD,
            used_token,
        )
    driver.find_element(By.NAME, "note").send_keys(TIP_NOTE)
    submit(driver, LANDING_FORM)
    gate.check("source", "already-received", language)


def come_back_checks(gate: Gate, url: str, language: str, passphrase: str) -> None:
    driver = gate.driver
    open_page(driver, f"{url}/{language}/come-back/")
    gate.check("source", "come-back", language)
    spoil_csrf_token(driver, "form[action$='/come-back/']")
    driver.find_element(By.NAME, "passphrase").send_keys(passphrase)
    submit(driver, "form[action$='/come-back/']")
    gate.check("source", "csrf-failure", language)

    open_page(driver, f"{url}/{language}/come-back/")
    driver.find_element(By.NAME, "passphrase").send_keys("not the passphrase of any tip")
    submit(driver, "form[action$='/come-back/']")
    gate.check("source", "come-back-refused", language)
    driver.find_element(By.NAME, "passphrase").send_keys(passphrase)
    submit(driver, "form[action$='/come-back/']")
    gate.check("source", "conversation", language)
    submit(driver, "form[action$='/conversation/leave/']")
    open_page(driver, f"{url}/{language}/conversation/")
    gate.check("source", "visit-over", language)


# --- The staff's pages ----------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_pages_pass_the_gate(live_server, real_services, gate: Gate, monkeypatch) -> None:
    driver, url = gate.driver, live_server.url
    admin = staff_account_create("ana", admin=True)
    tip = tip_with_two_files(url, real_services)
    for language in LANGUAGES:
        browser_language(driver, language)
        open_page(driver, f"{url}/staff/login/")
        gate.check("staff", "login", language)
        log_in(driver, admin, code_no_device_accepts(admin))
        WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "[role=alert]"))
        gate.check("staff", "login-refused", language)
        busy_page_check(gate, url, admin, language, monkeypatch)

    open_page(driver, f"{url}/staff/login/")
    log_in(driver, admin, admin.current_code())
    WebDriverWait(driver, 60).until(lambda d: d.current_url == f"{url}/staff/")
    sign_in_codes = {}
    for language in LANGUAGES:
        browser_language(driver, language)
        sign_in_codes[language] = admin_pages_check(gate, url, tip, language)
        damaged_file_check(gate, url, tip, language, monkeypatch)

    newcomers = {}
    for language in LANGUAGES:
        browser_language(driver, language)
        newcomers[language] = newcomer_enrols(gate, url, language, sign_in_codes[language])
    driver.delete_all_cookies()
    open_page(driver, f"{url}/staff/login/")
    log_in(driver, admin, admin.backup_codes.pop())  # the TOTP code of a minute ago is used up
    WebDriverWait(driver, 60).until(lambda d: d.current_url == f"{url}/staff/")
    for language in LANGUAGES:
        browser_language(driver, language)
        second_factor_reset_check(gate, url, newcomers[language], language)
    assert gate.routes >= PAGE_ROUTES["staff"], gate.routes
    gate.assert_clean()


def busy_page_check(gate: Gate, url: str, admin: StaffAccount, language: str, monkeypatch) -> None:
    """Too many password checks at once: the calm "try again" page (made busy here, as a
    thousand sign-ins at once would)."""

    def busy(**_credentials):
        raise auth_views.PasswordChecksBusy

    with monkeypatch.context() as patch:
        patch.setattr(auth_views, "staff_authenticate", busy)
        open_page(gate.driver, f"{url}/staff/login/")
        log_in(gate.driver, admin, code_no_device_accepts(admin))
        WebDriverWait(gate.driver, 60).until(lambda d: "/login/" in d.current_url)
        gate.check("staff", "busy", language)


def damaged_file_check(gate: Gate, url: str, tip: Tip, language: str, monkeypatch) -> None:
    """A blob that fails its check when opened (damaged on disk): the page that says so."""

    def damaged(*_args, **_kwargs):
        raise DecryptionError("damaged")

    with monkeypatch.context() as patch:
        patch.setattr(file_views, "attachment_thumbnail_open", damaged)
        open_page(gate.driver, f"{url}/staff/tips/{tip.reference}/files/1/thumbnail/")
        gate.check("staff", "file-damaged", language)


def tip_with_two_files(url: str, worker) -> Tip:
    """A tip with a cleaned picture and a file nobody cleans, processed by the real worker.

    No safe copy: tests/settings.py turns them off, for the worker too (its sandboxed
    conversion takes longer than this whole module should)."""
    files = [("harbour.jpg", jpeg_bytes()), ("ledger.bin", UNSANITIZED_BYTES)]
    assert Browser(url).submit_tip(note=TIP_NOTE, files=files).status == 200
    tip = Tip.objects.get()
    wait_until(
        lambda: {a.state for a in Attachment.objects.filter(tip=tip)} == {Attachment.State.DONE},
        what="the worker to process both files\n" + worker.log(),
    )
    return tip


def admin_pages_check(gate: Gate, url: str, tip: Tip, language: str) -> str:
    """Every admin page; the sign-in code of the editor created on the way."""
    driver = gate.driver
    for page, path in (
        ("inbox", "/staff/"),
        ("tip", f"/staff/tips/{tip.reference}/"),
        ("editors", "/staff/editors/"),
        ("audit", "/staff/audit/"),
        ("retention", "/staff/retention/"),
        ("recovery", "/staff/recovery-key/"),
        ("password", "/staff/password/"),
        ("404", "/staff/tips/T-NONE/"),
    ):
        open_page(driver, url + path)
        gate.check("staff", page, language)

    open_page(driver, f"{url}/staff/tips/{tip.reference}/")
    driver.find_element(By.NAME, "body").send_keys("Llamar al puerto / call the harbour")
    submit(driver, "form[action$='/notes/']")
    driver.find_element(By.NAME, "reply").send_keys("¿Tiene el vídeo? / Do you have the video?")
    submit(driver, "form[action$='/reply/']")
    gate.check("staff", "tip-with-note-and-reply", language)

    open_page(driver, f"{url}/staff/tips/{tip.reference}/files/2/")  # ledger.bin, not cleaned
    assert driver.find_elements(By.CSS_SELECTOR, "p.warning")
    gate.check("staff", "download-warning", language)

    open_page(driver, f"{url}/staff/editors/new/")
    gate.check("staff", "editor-new", language)
    driver.find_element(By.NAME, "username").send_keys(f"newcomer-{language}")
    driver.find_element(By.NAME, "password").send_keys(EDITOR_PASSWORD)
    driver.find_element(By.NAME, "password_again").send_keys(EDITOR_PASSWORD)
    submit(driver, "form[action$='/editors/new/']")
    gate.check("staff", "editor-created", language)
    sign_in_code = driver.find_element(By.CSS_SELECTOR, "p.secret").text

    open_page(driver, f"{url}/staff/password/")
    spoil_csrf_token(driver, "form[action$='/password/']")
    for name in ("old_password", "new_password", "new_password_again"):
        driver.find_element(By.NAME, name).send_keys(NEWCOMER_PASSWORD)
    submit(driver, "form[action$='/password/']")
    gate.check("staff", "csrf-failure", language)
    return sign_in_code


def newcomer_enrols(gate: Gate, url: str, language: str, code: str) -> StaffAccount:
    """A newcomer signs in with the admin's sign-in code, enrols an authenticator, and is
    refused an admin's page."""
    driver = gate.driver
    driver.delete_all_cookies()
    user = get_user_model().objects.get(username=f"newcomer-{language}")
    account = StaffAccount(user, EDITOR_PASSWORD, otpauth_uri="", backup_codes=[])
    open_page(driver, f"{url}/staff/login/")
    log_in(driver, account, code)
    WebDriverWait(driver, 60).until(lambda d: d.current_url.endswith("/staff/first-sign-in/"))
    gate.check("staff", "enrol", language)
    enrolment_form_fill(driver, password_field="new_password")
    submit(driver, "form[action$='/first-sign-in/']")
    gate.check("staff", "enrol-done", language)
    open_page(driver, f"{url}/staff/editors/new/")
    gate.check("staff", "403", language)
    return account


def enrolment_form_fill(driver: webdriver.Chrome, *, password_field: str) -> None:
    """One's own password, twice, and the code of an authenticator set up from the page's link."""
    uri = driver.find_element(By.CSS_SELECTOR, "figure.qr + p.secret").text
    driver.find_element(By.NAME, password_field).send_keys(NEWCOMER_PASSWORD)
    driver.find_element(By.NAME, f"{password_field}_again").send_keys(NEWCOMER_PASSWORD)
    driver.find_element(By.NAME, "code").send_keys(totp_code(uri))


def second_factor_reset_check(gate: Gate, url: str, account: StaffAccount, language: str) -> None:
    driver = gate.driver
    form = f"form[action$='/editors/{account.user.pk}/reset-second-factor/']"
    open_page(driver, f"{url}/staff/editors/")
    driver.find_element(By.CSS_SELECTOR, f"{form} [name=confirm]").click()
    submit(driver, form)
    gate.check("staff", "second-factor-reset", language)


# --- The first-run set-up --------------------------------------------------------------------------

SETUP_PASSPHRASE = "a long passphrase for the offline recovery key 2026"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", LANGUAGES)
def test_setup_pages_pass_the_gate(live_server, gate: Gate, language: str) -> None:
    """A fresh installation: the one-time link, the first admin, the recovery key, the end.
    Once per language: set-up happens once, and its pages follow the browser's language."""
    driver, url = gate.driver, live_server.url
    browser_language(driver, language)
    open_page(driver, f"{url}/setup/{setup_token_issue()}/")
    gate.check("setup", "admin-name", language)
    driver.find_element(By.NAME, "username").send_keys("directora")
    submit(driver, "form")
    gate.check("setup", "admin-enrol", language)
    enrolment_form_fill(driver, password_field="password")
    submit(driver, "form")
    gate.check("setup", "admin-created", language)
    open_page(driver, driver.find_element(By.CSS_SELECTOR, "p.actions a").get_attribute("href"))
    gate.check("setup", "recovery-key", language)
    driver.find_element(By.NAME, "passphrase").send_keys(SETUP_PASSPHRASE)
    driver.find_element(By.NAME, "passphrase_again").send_keys(SETUP_PASSPHRASE)
    submit(driver, "form")
    gate.check("setup", "done", language)
    assert gate.routes >= PAGE_ROUTES["setup"], gate.routes
    gate.assert_clean()
