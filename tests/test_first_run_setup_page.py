"""#16: the first-run page at /setup/<token>/ makes the first admin and the recovery key.

Walked through as the operator does (the link, the admin's name, the QR code's
secret and its code, the backup codes, the passphrase twice, the download),
and as an attacker who reaches the page would try it: no token, a wrong one, a
replay, a form sent twice, another browser asking for the key file.
"""

from __future__ import annotations

import hmac
import html
import re
import stat
from base64 import b32decode
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client, TestCase, override_settings

from tests.triage.helpers import totp_code
from tipline.accounts.second_factor import totp_secret_open
from tipline.crypto import Argon2Params
from tipline.keyring import (
    RECOVERY_FILE_HEADER,
    active_recovery_key,
    recovery_private_key_load,
    tipline_is_open,
)
from tipline.models import AuditEntry, AuthenticatorDevice, RecipientKey
from tipline.setup import services as setup_services
from tipline.setup.services import SetupStepDone, setup_admin_create
from tipline.setup.token import setup_token_issue, setup_token_path

pytestmark = pytest.mark.django_db

PASSWORD = "a long admin password 42"
PASSPHRASE = "a recovery passphrase kept apart"


@pytest.fixture(autouse=True)
def token_file(tmp_path: Path, settings, monkeypatch) -> Path:
    settings.TIPLINE_SETUP_TOKEN_FILE = tmp_path / "setup_token"
    # The real cost (256 MiB) is for the file that leaves the server; see tests/conftest.py.
    monkeypatch.setattr(
        "tipline.keyring.RECOVERY_KEY_ARGON2",
        Argon2Params(memory_cost=8 * 1024, iterations=1, lanes=1),
    )
    return settings.TIPLINE_SETUP_TOKEN_FILE


@pytest.fixture
def token() -> str:
    return setup_token_issue()


def browser() -> Client:
    return Client(headers={"accept-language": "en"})


def hidden(body: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', body)
    assert found, f"no hidden {name}"
    return html.unescape(found.group(1))


def otpauth_uri(body: str) -> str:
    found = re.search(r'<p class="secret">(otpauth://[^<]+)</p>', body)
    assert found, "no enrolment URI on the page"
    return html.unescape(found.group(1))


def choose_name(client: Client, token: str, username: str = "root"):
    return client.post(f"/setup/{token}/", {"step": "admin-name", "username": username})


def enrol(client: Client, token: str, page, *, password=PASSWORD, again=None, code=None):
    body = page.content.decode()
    data = {
        "step": "admin-enrol",
        "pending": hidden(body, "pending"),
        "password": password,
        "password_again": password if again is None else again,
        "code": totp_code(otpauth_uri(body)) if code is None else code,
    }
    return client.post(f"/setup/{token}/", data)


def make_admin(client: Client, token: str, username: str = "root"):
    return enrol(client, token, choose_name(client, token, username))


def make_recovery_key(client: Client, token: str, passphrase=PASSPHRASE, again=None):
    data = {"step": "recovery-key", "passphrase": passphrase}
    data["passphrase_again"] = passphrase if again is None else again
    with TestCase.captureOnCommitCallbacks(execute=True):  # as after a real commit
        return client.post(f"/setup/{token}/", data)


def staff_accounts() -> int:
    return get_user_model().objects.filter(is_staff=True).count()


# --- The whole way, as the operator goes -----------------------------------------------


def test_the_link_leads_a_newcomer_to_an_open_tip_line(token: str, tmp_path: Path) -> None:
    client = browser()
    first = client.get(f"/setup/{token}/")
    assert first.status_code == 200 and "Your admin account" in first.content.decode()
    assert "no-store" in first["Cache-Control"]

    named = choose_name(client, token)
    named_body = named.content.decode()
    assert "<svg" in named_body  # the QR code, as on the staff enrolment page
    uri = otpauth_uri(named_body)
    assert unquote(urlsplit(uri).path).endswith(":root")

    created = enrol(client, token, named)
    assert created.status_code == 200
    codes = re.findall(r"^([2-9a-z]{10})$", created.content.decode(), re.MULTILINE)
    assert len(codes) == 10
    admin = get_user_model().objects.get(username="root")
    assert admin.is_staff and admin.is_superuser and admin.is_active
    # The authenticator enrolled is the one the QR code showed, its code spent.
    device = AuthenticatorDevice.objects.get(user=admin)
    secret = b32decode(parse_qs(urlsplit(uri).query)["secret"][0])
    assert totp_secret_open(user_id=admin.pk, sealed=device.secret_sealed) == secret
    assert device.last_t >= 0
    assert not tipline_is_open()  # no recovery key yet

    assert "The recovery key" in client.get(f"/setup/{token}/").content.decode()
    made = make_recovery_key(client, token)
    assert made.status_code == 302 and made["Location"] == "/setup/done/"
    assert tipline_is_open()
    assert not setup_token_path().exists()  # the link is gone with set-up

    done = client.get("/setup/done/").content.decode()
    assert "The tip line is open" in done and "/staff/login/" in done
    download = client.post("/setup/key-file/")
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert "no-store" in download["Cache-Control"]
    key_file = tmp_path / "recovery.key"
    key_file.write_bytes(download.content)
    private_key = recovery_private_key_load(path=key_file, passphrase=PASSPHRASE)
    assert private_key.public_key().to_bytes() == bytes(active_recovery_key().public_key)

    # The admin signs in with what the page gave: password and a backup code.
    staff = browser()
    login = {"username": "root", "password": PASSWORD, "code": codes[0]}
    assert staff.post("/staff/login/", login).status_code == 302


def test_each_step_is_on_record_as_the_setup_page(token: str) -> None:
    client = browser()
    make_admin(client, token)
    make_recovery_key(client, token)
    actors = set(AuditEntry.objects.values_list("actor", flat=True))
    assert actors == {setup_services.SETUP_ACTOR}
    assert AuditEntry.objects.count() == 2  # the account and the recovery key


def test_the_page_is_in_spanish_for_a_spanish_browser(token: str) -> None:
    client = Client(headers={"accept-language": "es"})
    body = client.get(f"/setup/{token}/").content.decode()
    assert "Configurar el buzón" in body and "Set up the tip line" not in body
    assert 'lang="es"' in body


# --- Refusals that make nothing -------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "again"),
    [
        (PASSWORD, PASSWORD + "!"),  # typed differently
        ("short pw", "short pw"),  # under 12 characters
        ("editorinchief1", "editorinchief1"),  # too like the username
        ("123456789012", "123456789012"),  # entirely numeric
    ],
)
def test_a_refused_password_makes_no_account(token: str, password: str, again: str) -> None:
    client = browser()
    named = choose_name(client, token, "editorinchief")
    response = enrol(client, token, named, password=password, again=again)
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert staff_accounts() == 0


def test_a_wrong_code_makes_no_account_and_keeps_the_same_qr_code(token: str) -> None:
    client = browser()
    named = choose_name(client, token)
    response = enrol(client, token, named, code="000000")
    body = response.content.decode()
    assert "not the code the app shows" in body
    assert otpauth_uri(body) == otpauth_uri(named.content.decode())
    assert staff_accounts() == 0


def test_an_altered_pending_account_starts_the_step_again(token: str) -> None:
    client = browser()
    named = choose_name(client, token)
    body = named.content.decode()
    data = {
        "step": "admin-enrol",
        "pending": hidden(body, "pending") + "x",
        "password": PASSWORD,
        "password_again": PASSWORD,
        "code": totp_code(otpauth_uri(body)),
    }
    response = client.post(f"/setup/{token}/", data)
    assert 'value="admin-name"' in response.content.decode()
    assert staff_accounts() == 0


@pytest.mark.parametrize("username", ["has space", "x" * 151])
def test_a_refused_username(token: str, username: str) -> None:
    response = choose_name(browser(), token, username)
    assert "errorlist" in response.content.decode() and "otpauth" not in response.content.decode()


def test_a_short_or_mistyped_passphrase_makes_no_key(token: str) -> None:
    client = browser()
    make_admin(client, token)
    assert "errorlist" in make_recovery_key(client, token, "too short").content.decode()
    again = make_recovery_key(client, token, PASSPHRASE, PASSPHRASE + "!")
    assert "errorlist" in again.content.decode()
    assert active_recovery_key() is None


# --- An attacker who reaches the page ----------------------------------------------------------


def test_without_the_token_every_page_is_not_found(token: str) -> None:
    client = browser()
    unknown = client.get("/no-such-page/")
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
    for url in ["/setup/", f"/setup/{wrong}/", f"/setup/{token.upper()}/", "/setup/done/"]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.content == unknown.content, url  # nothing says set-up is pending
    posted = client.post(f"/setup/{wrong}/", {"step": "admin-name", "username": "mallory"})
    assert posted.status_code == 404
    assert client.post("/setup/key-file/").status_code == 404


def test_without_a_token_file_nothing_opens(token_file: Path) -> None:
    assert not token_file.exists()
    assert browser().get("/setup/anything/").status_code == 404


def test_the_token_is_compared_as_a_hash_in_constant_time(token: str, monkeypatch) -> None:
    """No timing leak: the comparison is hmac.compare_digest over two SHA-256 digests of
    the same length, so its time says nothing about how much of a guess was right."""
    compared = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr("tipline.setup.token.hmac.compare_digest", spy)
    assert browser().get(f"/setup/{token[:10]}/").status_code == 404
    assert len(compared) == 1
    given, stored = compared[0]
    assert len(given) == len(stored) == 64 and token not in (given, stored)


def test_the_token_is_stored_as_a_hash_in_a_private_file(token: str, token_file: Path) -> None:
    content = token_file.read_text()
    assert token not in content and len(content) == 64
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def test_a_replay_after_set_up_is_not_found(token: str) -> None:
    client = browser()
    make_admin(client, token)
    make_recovery_key(client, token)
    for attempt in (browser(), client):
        assert attempt.get(f"/setup/{token}/").status_code == 404
        assert make_recovery_key(attempt, token).status_code == 404


def test_a_form_sent_twice_makes_one_admin(token: str) -> None:
    client = browser()
    named = choose_name(client, token)
    first = enrol(client, token, named)
    assert first.status_code == 200
    again = enrol(client, token, named)  # the same form, sent again
    assert 'value="recovery-key"' in again.content.decode()  # on to the recovery key
    assert staff_accounts() == 1


def test_two_admins_racing_past_the_page_make_one(token: str) -> None:
    """Two requests that both found no admin: the service checks again under its lock."""
    from tipline.accounts.second_factor import totp_secret_new

    def attempt(username: str) -> None:
        secret = totp_secret_new()
        uri = f"otpauth://totp/x?secret={__import__('base64').b32encode(secret).decode()}"
        uri += "&digits=6&period=30"
        setup_admin_create(
            username=username, password=PASSWORD, totp_secret=secret, code=totp_code(uri)
        )

    attempt("first")
    with pytest.raises(SetupStepDone):
        attempt("second")
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["first"]


def test_the_recovery_key_made_twice_is_refused(token: str) -> None:
    client = browser()
    make_admin(client, token)
    assert make_recovery_key(client, token).status_code == 302
    with pytest.raises(SetupStepDone):
        setup_services.setup_recovery_key_create(passphrase=PASSPHRASE, deliver=lambda a: None)
    assert RecipientKey.objects.filter(kind=RecipientKey.Kind.RECOVERY).count() == 1


def test_the_key_file_goes_only_to_the_browser_that_made_it_and_once(token: str) -> None:
    client = browser()
    make_admin(client, token)
    make_recovery_key(client, token)
    assert browser().post("/setup/key-file/").status_code == 404  # another browser
    assert client.get("/setup/key-file/").status_code == 405  # a download is a POST
    assert client.post("/setup/key-file/").status_code == 200
    assert client.post("/setup/key-file/").status_code == 404  # once


def test_the_session_alone_does_not_open_the_key_file(token: str) -> None:
    """A copy of the database (the session row) or a stolen session cookie is not enough:
    the waiting file is sealed under a key only the browser's own cookie holds."""
    client = browser()
    make_admin(client, token)
    make_recovery_key(client, token)
    for session in Session.objects.all():
        assert RECOVERY_FILE_HEADER not in str(session.get_decoded())
    client.cookies.pop("tipline_setup_key")
    assert client.post("/setup/key-file/").status_code == 404


def test_the_key_file_is_not_left_on_disk(token: str, settings) -> None:
    client = browser()
    make_admin(client, token)
    make_recovery_key(client, token)
    data_dir = Path(settings.DATA_DIR)
    for path in data_dir.rglob("*"):
        if path.is_file() and path.stat().st_size < 50_000_000:
            assert RECOVERY_FILE_HEADER.encode() not in path.read_bytes(), path


def test_the_forms_need_the_csrf_token(token: str) -> None:
    client = Client(enforce_csrf_checks=True, headers={"accept-language": "en"})
    response = client.post(f"/setup/{token}/", {"step": "admin-name", "username": "root"})
    assert response.status_code == 403 and staff_accounts() == 0


# --- The command-line path ends the link too -----------------------------------------------


def test_create_editor_and_create_recovery_key_end_the_link(
    token: str, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("TIPLINE_PASSWORD", PASSWORD)
    monkeypatch.setenv("TIPLINE_RECOVERY_PASSPHRASE", PASSPHRASE)
    call_command("create_editor", "root", "--admin", stdout=__import__("io").StringIO())
    assert browser().get(f"/setup/{token}/").status_code == 200  # half-way: still needed
    out = tmp_path / "recovery.key"
    call_command("create_recovery_key", "--output", str(out), stdout=__import__("io").StringIO())
    assert browser().get(f"/setup/{token}/").status_code == 404
    assert not setup_token_path().exists()


def test_after_a_cli_admin_the_page_asks_only_for_the_recovery_key(token: str) -> None:
    from tipline.accounts.services import editor_create
    from tipline.audit import COMMAND_LINE_ACTOR

    editor_create(actor=COMMAND_LINE_ACTOR, username="cli", password=PASSWORD, is_admin=True)
    body = browser().get(f"/setup/{token}/").content.decode()
    assert 'value="recovery-key"' in body and 'value="admin-name"' not in body


@override_settings(TIPLINE_SITE_NAME="Diario Norte")
def test_the_qr_code_names_the_newsroom(token: str) -> None:
    uri = otpauth_uri(choose_name(browser(), token).content.decode())
    assert "issuer=Diario%20Norte" in uri
