"""The retention page, the deletion date on the tip page and the legal hold.

The policy is an admin's, saved only with valid numbers (1 to 3650 days) and
audited with the old and new values. The preview counts and lists what the
purges of the next 7 and 30 days will delete without decrypting anything; a
tip the admin cannot read is listed without its reference. Every editor sees
when a tip goes; only admins set or lift a legal hold, which is audited.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.template.defaultfilters import date as date_filter
from django.utils import timezone, translation

from tests.triage.helpers import signed_in_client
from tipline.audit import Action, audit_verify
from tipline.crypto import new_tip_key
from tipline.intake.services import tip_create
from tipline.models import AuditEntry, Grant, RetentionPolicy, Tip

pytestmark = pytest.mark.django_db

URL = "/staff/retention/"


def make_tip(*, status: str = "new", days_ago: int = 0, legal_hold: bool = False) -> Tip:
    """A tip granted to every active recipient, that reached ``status`` ``days_ago`` days ago."""
    tip = tip_create(
        tip_key_id=uuid.uuid4(),
        tip_key=new_tip_key(),
        note="secret note",
        links=[],
        uploads=[],
        arrived_in_flood=False,
    )
    Tip.objects.filter(pk=tip.pk).update(
        status=status,
        status_changed_on=timezone.localdate() - timedelta(days=days_ago),
        legal_hold=legal_hold,
    )
    tip.refresh_from_db()
    return tip


def policy_form(default: int | str = 365, **status_days: int | str) -> dict[str, str]:
    data = {"default_days": str(default)}
    for status in Tip.Status.values:
        data[f"days_{status}"] = str(status_days.get(status, ""))
    return data


def policy() -> RetentionPolicy:
    return RetentionPolicy.objects.get(pk=RetentionPolicy.current().pk)


def tip_url(tip: Tip, action: str = "") -> str:
    return f"/staff/tips/{tip.reference}/{action + '/' if action else ''}"


# --- The policy ---------------------------------------------------------------------------


def test_the_page_shows_the_current_policy(admin_client) -> None:
    RetentionPolicy.current()  # 365 by default, discarded 30
    response = admin_client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert re.search(r'name="default_days"[^>]*value="365"', body)
    assert re.search(r'name="days_discarded"[^>]*value="30"', body)
    assert re.search(r'<input[^>]*name="days_published"(?![^>]*value=)[^>]*>', body)
    assert 'min="1"' in body and 'max="3650"' in body
    assert "style=" not in body and "<script" not in body


def test_saving_the_policy_is_audited_with_old_and_new_numbers(admin_client) -> None:
    RetentionPolicy.current()
    response = admin_client.post(URL, policy_form(200, discarded=14, published=730))
    assert response.status_code == 302 and response["Location"] == URL
    saved = policy()
    assert saved.default_days == 200
    assert saved.status_days == {"discarded": 14, "published": 730}
    assert saved.days_for("new") == 200 and saved.days_for("published") == 730
    entry = AuditEntry.objects.get(action=Action.RETENTION_CHANGED)
    assert entry.actor == "root"
    assert entry.detail == {
        "from": {"default": 365, "discarded": 30},
        "to": {"default": 200, "discarded": 14, "published": 730},
    }
    assert audit_verify().intact
    assert "Retention policy saved." in admin_client.get(URL).content.decode()


def test_a_blank_status_field_means_the_default(admin_client) -> None:
    RetentionPolicy.current()
    admin_client.post(URL, policy_form(90))  # "discarded" left empty
    assert policy().status_days == {}
    assert policy().days_for("discarded") == 90


def test_saving_the_same_policy_records_nothing(admin_client) -> None:
    RetentionPolicy.current()
    response = admin_client.post(URL, policy_form(365, discarded=30))
    assert response.status_code == 302
    assert not AuditEntry.objects.filter(action=Action.RETENTION_CHANGED).exists()


@pytest.mark.parametrize(
    "data",
    [
        policy_form(0),
        policy_form(3651),
        policy_form(""),
        policy_form("ten"),
        policy_form(365, discarded=0),
        policy_form(365, published=99999),
        policy_form(-5),
    ],
)
def test_out_of_range_numbers_save_nothing(admin_client, data) -> None:
    RetentionPolicy.current()
    response = admin_client.post(URL, data)
    assert response.status_code == 200
    assert 'class="errorlist' in response.content.decode()
    assert (policy().default_days, policy().status_days) == (365, {"discarded": 30})
    assert not AuditEntry.objects.filter(action=Action.RETENTION_CHANGED).exists()


def test_editors_cannot_see_or_change_the_policy(editor_client) -> None:
    RetentionPolicy.current()
    assert editor_client.get(URL).status_code == 403
    assert editor_client.post(URL, policy_form(1)).status_code == 403
    assert policy().default_days == 365


def test_the_retention_and_recovery_links_are_for_admins_only(admin_client, editor) -> None:
    assert 'href="/staff/retention/"' in admin_client.get("/staff/").content.decode()
    assert 'href="/staff/recovery-key/"' in admin_client.get("/staff/").content.decode()
    body = signed_in_client(editor).get("/staff/").content.decode()
    assert 'href="/staff/retention/"' not in body and 'href="/staff/recovery-key/"' not in body


def test_csrf_is_enforced_on_the_policy(admin) -> None:
    RetentionPolicy.current()
    client = signed_in_client(admin)
    client.handler.enforce_csrf_checks = True
    token = re.search(
        r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get(URL).content.decode()
    )
    assert client.post(URL, policy_form(10)).status_code == 403
    assert policy().default_days == 365
    response = client.post(URL, {**policy_form(10), "csrfmiddlewaretoken": token.group(1)})
    assert response.status_code == 302 and policy().default_days == 10


# --- The preview --------------------------------------------------------------------------


@pytest.fixture
def due_tips(admin, editor):
    """With the default policy (365 days, discarded 30): tips due at several distances."""
    RetentionPolicy.current()
    return {
        "overdue": make_tip(status="discarded", days_ago=40),  # the next purge
        "in_3": make_tip(status="discarded", days_ago=27),
        "in_20": make_tip(status="new", days_ago=345),
        "in_60": make_tip(status="new", days_ago=305),
        "held": make_tip(status="discarded", days_ago=400, legal_hold=True),
        "fresh": make_tip(),
    }


def test_the_preview_counts_and_lists_what_goes_in_7_and_30_days(admin_client, due_tips) -> None:
    body = admin_client.get(URL).content.decode()
    assert "In the next 7 days: 2 tips." in body
    assert "In the next 30 days: 3 tips." in body
    assert "Under legal hold (kept): 1 tip." in body
    today = timezone.localdate()
    for key, days in (("overdue", -10), ("in_3", 3), ("in_20", 20)):
        tip = due_tips[key]
        assert f'<a href="/staff/tips/{tip.reference}/">{tip.reference}</a>' in body
        assert (today + timedelta(days=days)).isoformat() in body
    for key in ("in_60", "held", "fresh"):
        assert due_tips[key].reference not in body
    # Soonest first.
    assert body.index(due_tips["overdue"].reference) < body.index(due_tips["in_20"].reference)


def test_the_preview_decrypts_nothing(admin_client, due_tips, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the retention page must not open a tip")

    monkeypatch.setattr("tipline.keyring.unwrap_key", refuse)
    monkeypatch.setattr("tipline.sealed.tip_content_open", refuse)
    body = admin_client.get(URL).content.decode()
    assert "In the next 30 days: 3 tips." in body
    assert "secret note" not in body


def test_a_tip_the_admin_cannot_read_is_listed_without_its_reference(
    admin, admin_client, due_tips
) -> None:
    hidden = due_tips["in_3"]
    Grant.objects.filter(tip=hidden, recipient__user=admin.user).delete()
    body = admin_client.get(URL).content.decode()
    assert "In the next 7 days: 2 tips." in body  # still counted
    assert hidden.reference not in body
    assert "a tip you cannot read" in body


def test_preview_shows_what_a_typed_policy_would_delete_without_saving(
    admin_client, due_tips
) -> None:
    # Shortening "new" to 300 days would make in_60 due at once.
    response = admin_client.post(URL, {**policy_form(300, discarded=30), "preview": "1"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "not saved" in body
    assert "In the next 7 days: 4 tips." in body
    assert due_tips["in_60"].reference in body
    assert policy().default_days == 365
    assert not AuditEntry.objects.filter(action=Action.RETENTION_CHANGED).exists()


def test_the_list_is_capped_but_the_counts_are_not(admin_client, monkeypatch) -> None:
    monkeypatch.setattr("tipline.retention.preview.PREVIEW_LIST_LIMIT", 2)
    RetentionPolicy.current()
    for _ in range(5):
        make_tip(status="discarded", days_ago=35)
    body = admin_client.get(URL).content.decode()
    assert "In the next 7 days: 5 tips." in body
    assert "And 3 more." in body


# --- The tip page -------------------------------------------------------------------------


def test_every_editor_sees_the_deletion_date(editor_client, editor) -> None:
    RetentionPolicy.current()
    tip = make_tip(status="discarded", days_ago=10)
    body = editor_client.get(tip_url(tip)).content.decode()
    deletion = timezone.localdate() + timedelta(days=20)
    with translation.override("en"):
        shown = date_filter(deletion, "DATE_FORMAT")
    assert f"Deleted on {shown}." in body
    assert "kept 30 days" in body
    # Editors get no legal hold form.
    assert "/legal-hold/" not in body


def test_a_due_tip_says_the_next_purge_deletes_it(editor_client) -> None:
    RetentionPolicy.current()
    tip = make_tip(status="discarded", days_ago=31)
    body = editor_client.get(tip_url(tip)).content.decode()
    assert "Deleted at the next daily purge" in body


def test_a_held_tip_says_so(editor_client) -> None:
    tip = make_tip(status="discarded", days_ago=400, legal_hold=True)
    body = editor_client.get(tip_url(tip)).content.decode()
    assert "Kept: legal hold" in body
    assert "Deleted on" not in body


def test_an_admin_sets_and_lifts_the_hold_audited(admin_client, editor) -> None:
    tip = make_tip()
    page = admin_client.get(tip_url(tip)).content.decode()
    assert f'action="/staff/tips/{tip.reference}/legal-hold/"' in page
    response = admin_client.post(tip_url(tip, "legal-hold"), {"hold": "set"})
    assert response.status_code == 302 and response["Location"] == tip_url(tip)
    tip.refresh_from_db()
    assert tip.legal_hold
    assert "Lift the legal hold" in admin_client.get(tip_url(tip)).content.decode()
    admin_client.post(tip_url(tip, "legal-hold"), {"hold": "lift"})
    tip.refresh_from_db()
    assert not tip.legal_hold
    entries = AuditEntry.objects.filter(tip_reference=tip.reference).exclude(
        action=Action.TIP_VIEWED
    )
    assert [(e.actor, e.action) for e in entries] == [
        ("root", Action.LEGAL_HOLD_SET),
        ("root", Action.LEGAL_HOLD_LIFTED),
    ]


def test_setting_a_hold_twice_records_it_once(admin_client, editor) -> None:
    tip = make_tip()
    admin_client.post(tip_url(tip, "legal-hold"), {"hold": "set"})
    admin_client.post(tip_url(tip, "legal-hold"), {"hold": "set"})
    assert AuditEntry.objects.filter(action=Action.LEGAL_HOLD_SET).count() == 1


@pytest.mark.parametrize("data", [{}, {"hold": ""}, {"hold": "maybe"}])
def test_a_post_without_a_clear_choice_changes_nothing(admin_client, editor, data) -> None:
    tip = make_tip(legal_hold=True)
    admin_client.post(tip_url(tip, "legal-hold"), data)
    tip.refresh_from_db()
    assert tip.legal_hold
    assert not AuditEntry.objects.filter(action=Action.LEGAL_HOLD_LIFTED).exists()


def test_editors_cannot_touch_the_hold(editor_client, admin) -> None:
    tip = make_tip(legal_hold=True)
    assert editor_client.post(tip_url(tip, "legal-hold"), {"hold": "lift"}).status_code == 403
    tip.refresh_from_db()
    assert tip.legal_hold


def test_the_hold_refuses_get_and_needs_a_grant(admin, admin_client, editor) -> None:
    tip = make_tip()
    assert admin_client.get(tip_url(tip, "legal-hold")).status_code == 405
    Grant.objects.filter(tip=tip, recipient__user=admin.user).delete()
    assert admin_client.post(tip_url(tip, "legal-hold"), {"hold": "set"}).status_code == 404
    tip.refresh_from_db()
    assert not tip.legal_hold


def test_csrf_is_enforced_on_the_hold(admin, editor) -> None:
    tip = make_tip()
    client = signed_in_client(admin)
    client.handler.enforce_csrf_checks = True
    client.get(tip_url(tip))  # sets the CSRF cookie
    assert client.cookies.get(settings.CSRF_COOKIE_NAME)
    assert client.post(tip_url(tip, "legal-hold"), {"hold": "set"}).status_code == 403
    tip.refresh_from_db()
    assert not tip.legal_hold


def test_the_deletion_date_is_translated(editor_client) -> None:
    tip = make_tip(legal_hold=True)
    body = editor_client.get(tip_url(tip), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Se conserva: retención legal" in body
    Tip.objects.filter(pk=tip.pk).update(legal_hold=False)
    body = editor_client.get(tip_url(tip), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Se borra el" in body
