"""The single-use form token: one form, one tip; a reload or a replay says "already received".

Tests that need the used-form marks to persist use a real cache
(``memory_cache``): the suite's default is the dummy cache, which remembers
nothing (tests/settings.py).
"""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signing import Signer
from django.test import Client, TestCase

from tests.conftest import all_files_under
from tests.intake.helpers import form_token_of, submit_tip
from tipline.intake import form_token
from tipline.intake.form_token import form_token_issue, form_token_read
from tipline.models import Attachment, Tip

pytestmark = pytest.mark.django_db

RECEIVED = {"es": "Gracias. Tu información ha llegado.", "en": "Thank you. Your tip has arrived."}
ALREADY = {"es": "Tu información ya ha llegado.", "en": "Your tip has already arrived."}
EXPIRED = {
    "es": "Este formulario ha caducado, así que no se guardó nada.",
    "en": "This form has expired, so nothing was stored.",
}
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def browser_without_javascript(lang: str = "es") -> tuple[Client, dict[str, str]]:
    """A browser that loaded the landing page: the hidden fields it would send back."""
    client = Client(enforce_csrf_checks=True)
    page = client.get(f"/{lang}/")
    assert page.status_code == 200
    body = page.content.decode()
    return client, {
        "csrfmiddlewaretoken": CSRF_FIELD.search(body).group(1),
        "form_token": form_token_of(page),
    }


def post(client: Client, lang: str, data: dict, files=()) -> object:
    if files:
        data = {**data, "files": [SimpleUploadedFile(name, content) for name, content in files]}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(f"/{lang}/send/", data)


def payload(value: str) -> list:
    """What a token says to anyone who reads the page (it is signed, not encrypted)."""
    data = value.rsplit(":", 1)[0]
    return json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))


# --- The form carries a token, and one form makes one tip --------------------------------------


@pytest.mark.parametrize("lang", ["es", "en"])
def test_without_javascript_the_form_sends_one_tip(open_tipline, memory_cache, lang) -> None:
    client, fields = browser_without_javascript(lang)
    response = post(client, lang, {**fields, "note": "lo que vi"})
    assert response.status_code == 200
    body = response.content.decode()
    assert RECEIVED[lang] in body and f'<html lang="{lang}">' in body
    assert Tip.objects.count() == 1


def test_the_token_holds_a_nonce_the_minute_and_the_flood_flag_only(
    open_tipline, clock, memory_cache
) -> None:
    client = Client(
        REMOTE_ADDR="198.51.100.23", HTTP_USER_AGENT="TokenUA/1.0", HTTP_ACCEPT_LANGUAGE="en"
    )
    value = form_token_of(client.get("/es/"))
    nonce, minute, flag = payload(value)
    assert len(nonce) >= 20 and minute == clock.minute and flag == 0
    assert "198.51.100.23" not in value and "TokenUA" not in value
    # Two pages, two different tokens.
    assert payload(form_token_of(client.get("/en/")))[0] != nonce


@pytest.mark.parametrize("lang", ["es", "en"])
def test_a_replayed_token_makes_no_second_tip(open_tipline, memory_cache, lang) -> None:
    client, fields = browser_without_javascript(lang)
    assert post(client, lang, {**fields, "note": "primera"}).status_code == 200
    replay = post(client, lang, {**fields, "note": "otra cosa"})
    assert replay.status_code == 200
    body = replay.content.decode()
    assert ALREADY[lang] in body and RECEIVED[lang] not in body
    assert "otra cosa" not in body
    assert Tip.objects.count() == 1


def test_reloading_the_confirmation_stores_nothing_twice(
    open_tipline, memory_cache, blob_storage: Path
) -> None:
    client, fields = browser_without_javascript("es")
    data = {**fields, "note": "con archivo"}
    files = [("a.txt", b"hola"), ("b.bin", b"x" * 3000)]
    assert post(client, "es", data, files).status_code == 200
    stored = sorted(all_files_under(blob_storage))
    # The browser asks "resend?" and sends the same POST, files included.
    reload = post(client, "es", data, files)
    assert reload.status_code == 200
    assert ALREADY["es"] in reload.content.decode()
    assert Tip.objects.count() == 1 and Attachment.objects.count() == 2
    assert sorted(all_files_under(blob_storage)) == stored, "the second upload was discarded"


# --- Missing, forged or expired: the form again ------------------------------------------------


def assert_form_again(response, lang: str, typed: str) -> None:
    assert response.status_code == 400
    body = response.content.decode()
    assert EXPIRED[lang] in body
    assert typed in body, "what the source typed is still in the form"
    assert 'name="form_token"' in body
    assert not Tip.objects.exists()


@pytest.mark.parametrize("lang", ["es", "en"])
def test_a_missing_token_gets_the_form_again(open_tipline, memory_cache, lang) -> None:
    client, fields = browser_without_javascript(lang)
    del fields["form_token"]
    assert_form_again(post(client, lang, {**fields, "note": "mi nota"}), lang, "mi nota")


@pytest.mark.parametrize(
    "forge",
    [
        lambda value: value[:-2] + ("AA" if not value.endswith("AA") else "BB"),  # signature
        lambda value: Signer(salt="another.use").sign_object(payload(value)),  # another salt
        lambda value: Signer(key="not the secret", salt="tipline.intake.form-token").sign_object(
            payload(value)
        ),
        lambda value: Signer(salt="tipline.intake.form-token").sign_object(["n", 1]),  # shape
        lambda value: "x" * 5000,
        lambda value: "",
    ],
    ids=["signature", "salt", "key", "shape", "long", "empty"],
)
def test_a_forged_token_gets_the_form_again(open_tipline, memory_cache, forge) -> None:
    client, fields = browser_without_javascript("es")
    fields["form_token"] = forge(fields["form_token"])
    response = post(client, "es", {**fields, "note": "nota falsa"})
    assert_form_again(response, "es", "nota falsa")
    # The page's new token works.
    again = post(client, "es", {**fields, "form_token": form_token_of(response), "note": "bien"})
    assert again.status_code == 200 and Tip.objects.count() == 1


def test_a_token_is_good_for_its_lifetime_and_then_expires(
    open_tipline, clock, memory_cache, settings
) -> None:
    assert settings.TIPLINE_FORM_TOKEN_HOURS == 12
    slow, slow_fields = browser_without_javascript("en")
    late, late_fields = browser_without_javascript("en")
    clock.advance(12 * 3600 - 61)  # the source wrote for almost twelve hours
    assert post(slow, "en", {**slow_fields, "note": "slow"}).status_code == 200
    clock.advance(61)
    response = post(late, "en", {**late_fields, "note": "too late"})
    assert response.status_code == 400
    assert EXPIRED["en"] in response.content.decode() and "too late" in response.content.decode()
    assert Tip.objects.count() == 1


def test_a_token_from_the_future_is_refused(open_tipline, clock, memory_cache) -> None:
    client, fields = browser_without_javascript("es")
    clock.advance(-3600)  # issued an hour "after" now: a forged time, or a broken clock
    assert post(client, "es", {**fields, "note": "futuro"}).status_code == 400
    assert form_token_read(fields["form_token"]) is None


# --- A refusal keeps the form's token; a failure gives it back ---------------------------------


def test_a_refused_submission_keeps_the_token_for_the_next_try(open_tipline, memory_cache) -> None:
    client, fields = browser_without_javascript("es")
    empty = post(client, "es", {**fields, "note": "  "})
    assert empty.status_code == 400 and "Escribe una nota" in empty.content.decode()
    # The same form, shown again, with the same token (and the time it was first shown).
    assert form_token_of(empty) == fields["form_token"]
    assert post(client, "es", {**fields, "note": "ahora sí"}).status_code == 200
    assert Tip.objects.count() == 1


def test_a_tip_that_could_not_be_stored_does_not_use_up_its_form(
    open_tipline, memory_cache, monkeypatch
) -> None:
    from tipline.intake import views

    real = views.tip_create

    def failing(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(views, "tip_create", failing)
    client, fields = browser_without_javascript("es")
    client.raise_request_exception = False
    assert post(client, "es", {**fields, "note": "hola"}).status_code == 500
    monkeypatch.setattr(views, "tip_create", real)
    # The source tries again: stored, not "already received".
    response = post(client, "es", {**fields, "note": "hola"})
    assert response.status_code == 200 and RECEIVED["es"] in response.content.decode()
    assert Tip.objects.count() == 1


def test_a_closed_tip_line_does_not_use_up_the_form(open_tipline, memory_cache, monkeypatch):
    from tipline.intake import services

    client, fields = browser_without_javascript("es")
    # A context of its own: undoing the fixtures' patches too would put the
    # real clock back, and the form's time would then depend on the hour the
    # suite runs.
    with monkeypatch.context() as closed:
        closed.setattr(services, "tipline_is_open", lambda: False)
        assert post(client, "es", {**fields, "note": "hola"}).status_code == 503
    assert post(client, "es", {**fields, "note": "hola"}).status_code == 200


# --- The cache: never a reason to refuse, never a record of when -------------------------------


def test_a_broken_cache_never_refuses(open_tipline, memory_cache, monkeypatch, caplog) -> None:
    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    for name in ("get", "add", "incr", "set", "touch", "delete", "delete_many"):
        monkeypatch.setattr(LocMemCache, name, broken)
    client, fields = browser_without_javascript("es")  # the page still renders, with a token
    response = post(client, "es", {**fields, "note": "secreto 42"})
    assert response.status_code == 200
    assert Tip.objects.get().arrived_in_flood is False
    assert "cannot" in caplog.text and "secreto" not in caplog.text


def test_the_used_mark_names_no_one_and_expires_on_a_whole_hour(
    open_tipline, clock, memory_cache
) -> None:
    client, fields = browser_without_javascript("es")
    clock.advance(17 * 60 + 23)  # sent at some minute and second of the hour
    assert post(client, "es", {**fields, "note": "hola"}).status_code == 200
    token = form_token_read(fields["form_token"])
    key = memory_cache.make_key(form_token._used_key(token))
    assert token.nonce not in key
    remaining = memory_cache._expire_info[key] - time.time()
    # The whole hour after the token expires: it says when the form was opened, to the hour.
    issued_hour = token.issued_minute * 60 // 3600 * 3600
    expected = issued_hour + 12 * 3600 + 3600
    assert expected % 3600 == 0
    assert remaining == pytest.approx(expected - clock.now, abs=2)


def test_the_file_cache_does_not_date_the_tip(open_tipline, clock, settings, tmp_path) -> None:
    folder = tmp_path / "cache"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(folder),
        }
    }
    client, fields = browser_without_javascript("es")
    clock.advance(17 * 60 + 23)
    assert post(client, "es", {**fields, "note": "hola"}).status_code == 200
    assert post(client, "es", {**fields, "note": "hola"}).status_code == 200  # a reload
    files = all_files_under(folder)
    assert len(files) >= 3  # forms issued, tips submitted, the used form
    for path in files:
        info = path.stat()
        assert info.st_mtime % 3600 == 0 and info.st_atime % 3600 == 0, path.name
        assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_the_helper_mints_tokens_the_view_accepts(open_tipline) -> None:
    # The suite's other tests post through ``submit_tip``, which signs like the landing page.
    assert form_token_read(form_token_issue()) is not None
    assert submit_tip(Client(), note="hola").status_code == 200
    assert submit_tip(Client(), note="sin", form_token="").status_code == 400
