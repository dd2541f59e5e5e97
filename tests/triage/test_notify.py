"""The daily reminder email, and the optional address it goes to.

Off by default. When on, every active staff account with an address gets one
message of its own, identical every day whatever arrived: no count, no
reference, no date. The address is set when the account is made (page or
manage.py create_editor --email).
"""

from __future__ import annotations

import io
import re
import smtplib

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from tests.test_settings import run_manage
from tests.triage.helpers import send_tip
from tipline.accounts.services import editor_create
from tipline.audit import COMMAND_LINE_ACTOR
from tipline.retention.notify import daily_notification_send, notification_text

pytestmark = pytest.mark.django_db

PASSWORD = "a long password for the notices"


@pytest.fixture
def notify_on(settings):
    settings.TIPLINE_NOTIFY_EMAIL = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "tipline@newsroom.example"
    return settings


def account(username: str, email: str = "", *, active: bool = True):
    user = editor_create(
        actor=COMMAND_LINE_ACTOR, username=username, password=PASSWORD, email=email
    ).user
    if not active:
        user.is_active = False
        user.save()
    return user


def sent() -> list[tuple[str, str, list[str], list[str], list[str]]]:
    return [(m.subject, m.body, m.to, m.cc, m.bcc) for m in mail.outbox]


# --- Off by default -------------------------------------------------------------------------


def test_off_by_default(tmp_path) -> None:
    # A fresh installation, without any TIPLINE_* variable.
    code = "from django.conf import settings as s; print(s.TIPLINE_NOTIFY_EMAIL)"
    result = run_manage("shell", "-v", "0", "-c", code, env_extra={}, data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False"]


def test_nothing_is_sent_when_off(settings) -> None:
    settings.TIPLINE_NOTIFY_EMAIL = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    account("ana", "ana@newsroom.example")
    assert daily_notification_send() == 0
    assert mail.outbox == []


# --- What is sent, to whom ------------------------------------------------------------------


def test_one_message_per_active_address_nobody_sees_the_others(notify_on) -> None:
    account("ana", "ana@newsroom.example")
    account("bea", "bea@newsroom.example", active=False)
    account("cleo")  # no address
    account("dani", "dani@newsroom.example")
    get_user_model().objects.create_user("outsider", email="out@example.org", password=PASSWORD)

    assert daily_notification_send() == 2

    assert sorted(m.to for m in mail.outbox) == [
        ["ana@newsroom.example"],
        ["dani@newsroom.example"],
    ]
    for message in mail.outbox:
        assert message.cc == [] and message.bcc == []
        assert message.from_email == "tipline@newsroom.example"
        headers = message.message().as_string()
        assert "bea@" not in headers and "out@" not in headers
        assert len(re.findall(r"@newsroom\.example", headers)) == 2  # From and To


def test_the_message_is_the_same_every_day_whatever_arrived(notify_on, open_tipline) -> None:
    account("ana", "ana@newsroom.example")
    daily_notification_send()
    quiet_day = sent()
    mail.outbox.clear()

    tips = [send_tip(note=f"tip {n}") for n in range(3)]
    daily_notification_send()
    busy_day = sent()

    assert quiet_day == busy_day
    subject, body, *_ = busy_day[0]
    for tip in tips:
        assert tip.reference not in subject + body
    assert not re.search(r"\d", subject + body), "no count, date or number of any kind"


def test_the_text_is_in_the_sites_language_whoever_triggers_it(notify_on) -> None:
    account("ana", "ana@newsroom.example")
    with translation.override("en"):
        daily_notification_send()
    with translation.override("es"):
        expected = notification_text()
    assert (mail.outbox[0].subject, mail.outbox[0].body) == expected
    assert mail.outbox[0].subject == "Aviso diario: revisa el buzón"  # LANGUAGE_CODE is "es"


def test_no_recipients_sends_nothing(notify_on) -> None:
    account("ana")
    assert daily_notification_send() == 0
    assert mail.outbox == []


class RefusesAna(LocmemBackend):
    def send_messages(self, messages):
        if any("ana@" in address for message in messages for address in message.to):
            raise smtplib.SMTPRecipientsRefused({"ana": (550, b"no")})
        return super().send_messages(messages)


def test_a_refused_address_does_not_stop_the_others(notify_on, caplog) -> None:
    notify_on.EMAIL_BACKEND = f"{__name__}.RefusesAna"
    account("ana", "ana@newsroom.example")
    account("bea", "bea@newsroom.example")
    assert daily_notification_send() == 1
    assert [m.to for m in mail.outbox] == [["bea@newsroom.example"]]
    assert "1 of 2" in caplog.text
    assert "newsroom.example" not in caplog.text


# --- Giving an address ----------------------------------------------------------------------


def test_an_admin_gives_an_address_when_creating_an_editor(admin_client) -> None:
    form = {
        "username": "cleo",
        "password": PASSWORD,
        "password_again": PASSWORD,
        "email": "cleo@newsroom.example",
    }
    assert admin_client.post("/staff/editors/new/", form).status_code == 200
    assert get_user_model().objects.get(username="cleo").email == "cleo@newsroom.example"
    assert "cleo@newsroom.example" in admin_client.get("/staff/editors/").content.decode()


def test_the_address_is_optional_and_checked(admin_client) -> None:
    base = {"username": "cleo", "password": PASSWORD, "password_again": PASSWORD}
    response = admin_client.post("/staff/editors/new/", {**base, "email": "not an address"})
    assert "Enter a valid email address." in response.content.decode()
    assert not get_user_model().objects.filter(username="cleo").exists()
    admin_client.post("/staff/editors/new/", base)
    assert get_user_model().objects.get(username="cleo").email == ""


def test_create_editor_takes_an_email(monkeypatch) -> None:
    monkeypatch.setenv("TIPLINE_PASSWORD", PASSWORD)
    call_command("create_editor", "bea", "--email", "bea@newsroom.example", stdout=io.StringIO())
    assert get_user_model().objects.get(username="bea").email == "bea@newsroom.example"
    call_command("create_editor", "cleo", stdout=io.StringIO())
    assert get_user_model().objects.get(username="cleo").email == ""
    with pytest.raises(CommandError, match="invalid email"):
        call_command("create_editor", "dani", "--email", "nope", stdout=io.StringIO())
    assert not get_user_model().objects.filter(username="dani").exists()
