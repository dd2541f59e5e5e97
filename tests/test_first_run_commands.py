"""#16 on the command line: `setup_link` (which `make run` calls), create_editor's QR code,
create_recovery_key's last word, and the authenticator's issuer."""

from __future__ import annotations

import io
import re
import stat
from pathlib import Path

import pytest
import segno
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import translation

from tipline.accounts.second_factor import totp_uri
from tipline.crypto import Argon2Params
from tipline.setup.token import setup_token_path

pytestmark = pytest.mark.django_db

PASSWORD = "a long admin password 42"
LINK = re.compile(r"http://127\.0\.0\.1:(\d+)/setup/([A-Za-z0-9_-]{43})/")


@pytest.fixture(autouse=True)
def token_file(tmp_path: Path, settings, monkeypatch) -> Path:
    settings.TIPLINE_SETUP_TOKEN_FILE = tmp_path / "setup_token"
    monkeypatch.delenv("HOST", raising=False)
    monkeypatch.setattr(
        "tipline.keyring.RECOVERY_KEY_ARGON2",
        Argon2Params(memory_cost=8 * 1024, iterations=1, lanes=1),
    )
    return settings.TIPLINE_SETUP_TOKEN_FILE


def run(name: str, *args: str) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


# --- setup_link ------------------------------------------------------------------------------


def test_a_fresh_installation_gets_a_link_that_opens_the_page(monkeypatch) -> None:
    monkeypatch.setenv("PORT", "8123")
    found = LINK.search(run("setup_link"))
    assert found and found.group(1) == "8123"
    assert Client().get(f"/setup/{found.group(2)}/").status_code == 200


def test_the_token_is_kept_as_a_hash_only_in_a_private_file(token_file: Path) -> None:
    token = LINK.search(run("setup_link")).group(2)
    assert token not in token_file.read_text()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def test_a_new_link_retires_the_last_one() -> None:
    first = LINK.search(run("setup_link")).group(2)
    second = LINK.search(run("setup_link")).group(2)
    assert first != second
    assert Client().get(f"/setup/{first}/").status_code == 404
    assert Client().get(f"/setup/{second}/").status_code == 200


def test_nothing_is_printed_once_set_up_is_done(recovery_key, token_file: Path) -> None:
    assert run("setup_link") == ""
    assert not token_file.exists()


def test_a_link_printed_before_set_up_ends_with_it(recovery_key, token_file: Path) -> None:
    """recovery_key opens the tip line; a token file left from before goes at the next run."""
    token_file.write_text("0" * 64)
    assert run("setup_link") == "" and not token_file.exists()


# --- create_editor's QR code -------------------------------------------------------------------


def test_create_editor_prints_the_qr_code_of_the_uri_it_prints(monkeypatch) -> None:
    monkeypatch.setenv("TIPLINE_PASSWORD", PASSWORD)
    output = run("create_editor", "root", "--admin")
    uri = re.search(r"otpauth://totp/\S+", output).group(0)
    drawing = io.StringIO()
    segno.make(uri, error="m").terminal(out=drawing, compact=True)
    assert drawing.getvalue() in output  # whole, in one piece, the same code
    assert "\u2580" in output or "\u2584" in output  # half blocks: fits 80 columns
    assert max(len(line) for line in drawing.getvalue().splitlines()) <= 80


def test_create_editor_without_a_recovery_key_says_what_opens_it(monkeypatch) -> None:
    monkeypatch.setenv("TIPLINE_PASSWORD", PASSWORD)
    output = run("create_editor", "root", "--admin")
    assert "now open" not in output and "create_recovery_key" in output


def test_create_recovery_key_without_an_editor_does_not_say_open(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("TIPLINE_RECOVERY_PASSPHRASE", "a recovery passphrase kept apart")
    output = run("create_recovery_key", "--output", str(tmp_path / "r.key"))
    assert "The tip line is open" not in output and "create_editor" in output


def test_the_command_line_path_completes_set_up(monkeypatch, tmp_path, token_file) -> None:
    run("setup_link")
    monkeypatch.setenv("TIPLINE_PASSWORD", PASSWORD)
    monkeypatch.setenv("TIPLINE_RECOVERY_PASSPHRASE", "a recovery passphrase kept apart")
    run("create_editor", "root", "--admin")
    assert token_file.exists()
    output = run("create_recovery_key", "--output", str(tmp_path / "r.key"))
    assert "The tip line is open." in output
    assert not setup_token_path().exists()


# --- The authenticator's issuer -------------------------------------------------------------


def test_the_issuer_follows_the_site_name_at_call_time() -> None:
    from django.contrib.auth import get_user_model

    user = get_user_model()(username="ana")
    with override_settings(TIPLINE_SITE_NAME="Diario Norte: tips"):
        uri = totp_uri(user=user, secret=b"\x01" * 20)
    assert uri.startswith("otpauth://totp/Diario%20Norte%20tips%3Aana?")
    assert uri.endswith("&issuer=Diario%20Norte%20tips")
    # Unnamed: the name the pages' header shows, in the language of the page.
    with override_settings(TIPLINE_SITE_NAME=""), translation.override("es"):
        assert "issuer=Buz%C3%B3n%20seguro" in totp_uri(user=user, secret=b"\x01" * 20)
    with override_settings(TIPLINE_SITE_NAME=""), translation.override("en"):
        assert "issuer=Secure%20tip%20line" in totp_uri(user=user, secret=b"\x01" * 20)
