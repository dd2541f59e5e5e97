"""A source comes back: the receipt, a reply, the source's message, the staff side, hostile input."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import Client

from tests.conversation.helpers import come_back, send_tip_for_passphrase
from tests.triage.helpers import signed_in_client
from tipline.audit import Action
from tipline.conversation.passphrase import wordlist
from tipline.models import AuditEntry, Conversation, Message, Tip

pytestmark = pytest.mark.django_db

REPLY = "Can you send the original video?"
SOURCE_MESSAGE = "Yes, here it is, and the date was 3 May."


def _reply(client: Client, tip: Tip, text: str = REPLY):
    return client.post(f"/staff/tips/{tip.reference}/reply/", {"reply": text})


@pytest.mark.parametrize("language", ["es", "en"])
def test_round_trip_in_both_languages(open_tipline, editor, language):
    passphrase = send_tip_for_passphrase(language=language)
    assert set(passphrase.split()) <= set(wordlist(language))
    tip = Tip.objects.get()
    staff = signed_in_client(editor)
    assert _reply(staff, tip).status_code == 302

    typed = "  " + "   ".join(passphrase.upper().split()) + "\n"
    source = come_back(typed, language=language)
    page = source.get(f"/{language}/conversation/")
    assert page.status_code == 200
    assert REPLY in page.content.decode()
    assert "in_review" not in page.content.decode() and editor.username not in page.content.decode()

    sent = source.post(f"/{language}/conversation/", {"message": SOURCE_MESSAGE})
    assert sent.status_code == 303
    assert Conversation.objects.get(tip=tip).unread

    tip_page = staff.get(f"/staff/tips/{tip.reference}/")
    assert SOURCE_MESSAGE in tip_page.content.decode()
    assert 'name="reply"' in tip_page.content.decode()
    assert not Conversation.objects.get(tip=tip).unread  # opening the tip marks it read


def test_a_reply_is_audited_without_its_text(open_tipline, editor):
    send_tip_for_passphrase()
    tip = Tip.objects.get()
    _reply(signed_in_client(editor), tip)
    entry = AuditEntry.objects.get(action=Action.REPLY_SENT)
    assert entry.tip_reference == tip.reference
    assert REPLY not in str(entry.detail)


def test_a_source_message_restarts_the_retention_clock(open_tipline):
    passphrase = send_tip_for_passphrase()
    Tip.objects.update(status_changed_on=date.today() - timedelta(days=300))
    source = come_back(passphrase)
    source.post("/es/conversation/", {"message": "more"})
    assert Tip.objects.get().status_changed_on == date.today()


@pytest.mark.parametrize(
    "typed",
    ["wrong words entirely here now please ok", "", "x" * 1_000_000, "\x00\x01\xff\ufffd"],
    ids=["wrong", "empty", "huge", "binary"],
)
def test_bad_passphrases_get_a_calm_message(open_tipline, typed):
    send_tip_for_passphrase()
    response = Client().post("/en/come-back/", {"passphrase": typed})
    assert response.status_code == 400
    assert "We found no tip for this passphrase" in response.content.decode()


def test_a_non_utf8_body_is_no_server_error(open_tipline):
    response = Client().post(
        "/en/come-back/", b"passphrase=\xff\xfe", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code < 500


def test_closed_conversation_refuses_messages_calmly(open_tipline, editor):
    passphrase = send_tip_for_passphrase(language="en")
    tip = Tip.objects.get()
    staff = signed_in_client(editor)
    staff.post(f"/staff/tips/{tip.reference}/conversation/close/")
    source = come_back(passphrase, language="en")
    assert "no longer receives messages" in source.get("/en/conversation/").content.decode()
    response = source.post("/en/conversation/", {"message": "hello"})
    assert response.status_code == 400
    assert not Message.objects.filter(author="source").exists()
    assert AuditEntry.objects.filter(action=Action.CONVERSATION_CLOSED).exists()


def test_purged_tip_gets_the_calm_message(open_tipline):
    from tipline.retention.purge import tips_purge_expired

    passphrase = send_tip_for_passphrase(language="en")
    Tip.objects.update(status_changed_on=date.today() - timedelta(days=4000))
    tips_purge_expired()
    assert not Tip.objects.exists() and not Conversation.objects.exists()
    assert not Message.objects.exists()
    response = Client().post("/en/come-back/", {"passphrase": passphrase})
    assert response.status_code == 400
    assert "may no longer be kept" in response.content.decode()


def test_editor_deletes_a_reply_and_the_source_no_longer_sees_it(open_tipline, editor):
    passphrase = send_tip_for_passphrase(language="en")
    tip = Tip.objects.get()
    staff = signed_in_client(editor)
    _reply(staff, tip)
    reply = Message.objects.get()
    staff.post(f"/staff/tips/{tip.reference}/reply/{reply.pk}/delete/")
    assert not Message.objects.exists()
    assert (
        REPLY not in come_back(passphrase, language="en").get("/en/conversation/").content.decode()
    )


def test_leave_ends_the_visit(open_tipline):
    passphrase = send_tip_for_passphrase(language="en")
    source = come_back(passphrase, language="en")
    cookie = dict(source.cookies)
    assert source.post("/en/conversation/leave/").status_code == 303
    again = Client()
    for name, morsel in cookie.items():
        again.cookies[name] = morsel.value  # the old cookie, replayed after leaving
    assert again.get("/en/conversation/").status_code == 403


def test_the_visit_cookie_is_a_session_cookie(open_tipline):
    passphrase = send_tip_for_passphrase(language="en")
    response = Client().post("/en/come-back/", {"passphrase": passphrase})
    [morsel] = [m for m in response.cookies.values() if "tipline_source" in m.key]
    assert not morsel["expires"] and not morsel["max-age"]
    assert morsel["httponly"] and morsel["samesite"] == "Strict" and morsel["path"] == "/"


def test_a_visit_reads_only_its_own_tip(open_tipline, editor):
    first = send_tip_for_passphrase(language="en")
    send_tip_for_passphrase(language="en")
    tip_a, tip_b = Tip.objects.order_by("id")
    staff = signed_in_client(editor)
    _reply(staff, tip_a, "for A only")
    _reply(staff, tip_b, "for B only")
    page = come_back(first, language="en").get("/en/conversation/").content.decode()
    assert "for A only" in page and "for B only" not in page


def test_forged_visit_cookie_reads_nothing(open_tipline):
    send_tip_for_passphrase(language="en")
    client = Client()
    client.cookies["__Host-tipline_source"] = "A" * 64
    client.cookies["tipline_source"] = "A" * 64
    assert client.get("/en/conversation/").status_code == 403


def test_staff_actions_refuse_anonymous_and_sources(open_tipline):
    passphrase = send_tip_for_passphrase(language="en")
    tip = Tip.objects.get()
    for client in (Client(), come_back(passphrase, language="en")):
        for path in ("reply/", "conversation/close/"):
            response = client.post(f"/staff/tips/{tip.reference}/{path}", {"reply": "x"})
            assert response.status_code in (302, 403)
    assert not Message.objects.exists()
    assert not Conversation.objects.get().closed


def test_other_editors_cannot_reply_to_a_tip_they_cannot_read(open_tipline, editor, make_editor):
    send_tip_for_passphrase(language="en")
    tip = Tip.objects.get()
    outsider = make_editor("late")  # made after the tip: no grant
    response = _reply(signed_in_client(outsider), tip)
    assert response.status_code in (403, 404)
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("path", "data"),
    [("/en/come-back/", {"passphrase": "x"}), ("/en/conversation/", {"message": "x"})],
)
def test_csrf_is_checked_on_source_forms(open_tipline, path, data):
    response = Client(enforce_csrf_checks=True).post(path, data)
    assert response.status_code == 403
