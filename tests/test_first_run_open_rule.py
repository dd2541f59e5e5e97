"""#16: the tip line opens only with a recovery key AND an active editor, and says so kindly.

Before, either was enough: with the README's order (recovery key, then
editor) a tip sent in between was readable by the recovery key alone and never
shown in an inbox; with an editor alone a tip was lost with the passwords.
"""

from __future__ import annotations

import logging
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, TestCase

from tests.intake.helpers import submit_tip
from tipline.accounts.services import editor_create, editor_deactivate, editor_invite
from tipline.audit import COMMAND_LINE_ACTOR
from tipline.crypto import PrivateKey, new_tip_key
from tipline.intake.services import TiplineClosed, tip_create
from tipline.keyring import active_editor_exists, recipient_key_register, tipline_is_open
from tipline.models import RecipientKey, Tip

pytestmark = pytest.mark.django_db

PASSWORD = "a long editor password 42"


def bare_recovery_key() -> None:
    recipient_key_register(
        kind=RecipientKey.Kind.RECOVERY, public_key=PrivateKey.generate().public_key()
    )


def an_editor(username: str = "ana"):
    return editor_create(actor=COMMAND_LINE_ACTOR, username=username, password=PASSWORD).user


def test_a_fresh_installation_is_closed() -> None:
    assert not tipline_is_open()


def test_a_recovery_key_alone_does_not_open_it() -> None:
    bare_recovery_key()
    assert not tipline_is_open()


def test_an_editor_alone_does_not_open_it() -> None:
    an_editor()
    assert not tipline_is_open()


def test_a_recovery_key_and_an_editor_open_it() -> None:
    bare_recovery_key()
    an_editor()
    assert tipline_is_open()


def test_an_invited_account_that_has_not_enrolled_does_not_count() -> None:
    # It has no key until its first sign-in: nothing could be wrapped to it.
    bare_recovery_key()
    editor_invite(actor=COMMAND_LINE_ACTOR, username="bea", password=PASSWORD)
    assert not active_editor_exists() and not tipline_is_open()


def test_the_last_editor_deactivated_closes_it_again() -> None:
    bare_recovery_key()
    user = an_editor()
    assert tipline_is_open()
    editor_deactivate(user=user, actor=COMMAND_LINE_ACTOR)
    assert not tipline_is_open()


def test_an_editor_key_of_an_account_no_longer_staff_does_not_count() -> None:
    bare_recovery_key()
    user = an_editor()
    get_user_model().objects.filter(pk=user.pk).update(is_staff=False)
    assert not tipline_is_open()


def test_tip_create_refuses_a_tip_that_only_the_recovery_key_could_read() -> None:
    bare_recovery_key()
    with pytest.raises(TiplineClosed):
        tip_create(
            tip_key_id=uuid.uuid4(),
            tip_key=new_tip_key(),
            note="for nobody's inbox",
            links=(),
            uploads=[],
            arrived_in_flood=False,
        )
    assert not Tip.objects.exists()


def test_the_source_form_refuses_it_too(client: Client, pipeline_key) -> None:
    bare_recovery_key()
    assert client.get("/en/").status_code == 503
    assert submit_tip(client, note="hola").status_code == 503
    assert not Tip.objects.exists()


def test_the_first_admin_reads_the_first_tip(client: Client, recovery_key) -> None:
    """The issue's scenario: every tip that is accepted reaches an inbox."""
    tip_response = submit_tip(client, note="the first tip")
    assert tip_response.status_code == 200
    tip = Tip.objects.get()
    readers = set(tip.grants.values_list("recipient__kind", flat=True))
    assert RecipientKey.Kind.EDITOR in readers and RecipientKey.Kind.RECOVERY in readers


# --- The page a source sees meanwhile ---------------------------------------------------


def test_the_closed_page_speaks_to_a_source(client: Client) -> None:
    response = client.get("/en/")
    body = response.content.decode()
    assert response.status_code == 503
    assert "This tip line is not accepting tips yet. Please come back later." in body
    # A first-time visitor sent nothing: no word about what was or was not kept.
    assert "kept" not in body and "stored" not in body
    assert "set up" not in body  # the operator's business, not the source's


def test_the_closed_page_is_translated(client: Client) -> None:
    body = client.get("/es/").content.decode()
    assert "todavía no acepta" in body and "accepting" not in body


def test_a_refused_submission_says_nothing_was_kept(client: Client) -> None:
    response = submit_tip(client, note="hola")
    assert response.status_code == 503
    assert "Lo que intentaste enviar no se ha guardado." in response.content.decode()


def test_the_closed_page_asks_to_retry_later_and_logs_no_error(client: Client, caplog) -> None:
    """503 with Retry-After, and none of Django's ERROR line per visit (docs/decisions.md)."""
    with caplog.at_level(logging.DEBUG):
        responses = [client.get("/es/"), client.get("/en/"), submit_tip(client, note="x")]
    assert [r.status_code for r in responses] == [503, 503, 503]
    assert all(int(r["Retry-After"]) > 0 for r in responses)
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == []


def test_a_real_server_error_is_still_logged(client: Client, caplog, monkeypatch) -> None:
    """The closed page's mark must not silence other 5xx answers."""

    def explode(request):
        raise RuntimeError("boom")

    monkeypatch.setattr("tipline.intake.views._landing", lambda *a, **k: explode(None))
    bare_recovery_key()
    an_editor()
    client.raise_request_exception = False
    with caplog.at_level(logging.ERROR), TestCase.captureOnCommitCallbacks(execute=True):
        assert client.get("/en/").status_code == 500
    assert any(record.name == "django.request" for record in caplog.records)
