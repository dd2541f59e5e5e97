"""The audit chain: what it records, what tampering it detects, the command and the admin page."""

from __future__ import annotations

import io
import secrets

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.intake.helpers import submit_tip
from tests.triage.helpers import signed_in_client
from tipline.audit import (
    GENESIS_HASH,
    Action,
    NewEntry,
    audit_record,
    audit_record_many,
    audit_verify,
    entry_hash,
)
from tipline.models import AuditEntry, Tip

pytestmark = pytest.mark.django_db


def record(n: int, *, actor: str = "ana") -> list[AuditEntry]:
    return [
        audit_record(
            actor=actor, action=Action.TIP_VIEWED, tip_reference=f"T{i:03d}", detail={"n": i}
        )
        for i in range(n)
    ]


def record_many(n: int, *, first: int = 0) -> list[AuditEntry]:
    return audit_record_many(
        NewEntry(actor="ana", action=Action.TIP_VIEWED, tip_reference=f"T{i:03d}", detail={"n": i})
        for i in range(first, first + n)
    )


def forged_hash(entry: AuditEntry) -> str:
    """What a forger who knows the scheme computes (written out here, not borrowed from audit.py)."""
    fields = {
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "tip": entry.tip_reference,
        "detail": entry.detail,
    }
    return entry_hash(previous_hash=entry.previous_hash, fields=fields)


def verify_output() -> str:
    out = io.StringIO()
    call_command("verify_audit_log", stdout=out)
    return out.getvalue()


def exit_code(*args: str) -> int:
    """Run the command as manage.py would, and return its process exit status."""
    try:
        execute_from_command_line(["manage.py", "verify_audit_log", *args])
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


# --- What is recorded -----------------------------------------------------------------


def test_login_failed_login_and_logout_are_recorded(editor) -> None:
    Client().post("/staff/login/", {"username": "ana", "password": "wrong", "code": "123456"})
    client = signed_in_client(editor)
    client.post("/staff/logout/")
    sign_ins = [Action.LOGIN_FAILED, Action.LOGIN, Action.LOGOUT]
    entries = list(
        AuditEntry.objects.filter(action__in=sign_ins).order_by("id").values_list("action", "actor")
    )
    assert entries == [
        (Action.LOGIN_FAILED, ""),
        (Action.LOGIN, "ana"),
        (Action.LOGOUT, "ana"),
    ]
    check = audit_verify()
    # The account's creation is on record too, before these three.
    assert check.intact and check.entries == AuditEntry.objects.count() == 4


def test_entries_chain_to_each_other_from_genesis() -> None:
    first, second, third = record(3)
    assert first.previous_hash == GENESIS_HASH
    assert second.previous_hash == first.entry_hash
    assert third.previous_hash == second.entry_hash


def test_an_empty_log_verifies() -> None:
    check = audit_verify()
    assert check.intact and check.entries == 0


# --- Tampering ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"detail": {"n": 999}},
        {"actor": "mallory"},
        {"action": Action.LOGIN},
        {"tip_reference": "OTHER"},
    ],
)
def test_changing_an_entry_is_detected_at_that_entry(change: dict) -> None:
    entries = record(5)
    AuditEntry.objects.filter(pk=entries[2].pk).update(**change)
    check = audit_verify()
    assert not check.intact
    assert check.first_broken_id == entries[2].pk
    assert "changed" in check.reason


def test_changing_an_entry_and_recomputing_its_hash_breaks_the_next() -> None:
    entries = record(5)
    forged = AuditEntry.objects.get(pk=entries[2].pk)
    forged.actor = "nobody"
    forged.entry_hash = forged_hash(forged)
    forged.save()
    check = audit_verify()
    assert check.first_broken_id == entries[3].pk
    assert "does not follow" in check.reason


def test_deleting_a_middle_entry_is_detected() -> None:
    entries = record(5)
    AuditEntry.objects.filter(pk=entries[2].pk).delete()
    check = audit_verify()
    assert check.first_broken_id == entries[3].pk
    assert "does not follow" in check.reason


def test_reordering_entries_is_detected() -> None:
    entries = record(4)
    # Swap the contents of rows 2 and 3, hashes and all: the rows stay valid on their own.
    a, b = (AuditEntry.objects.get(pk=e.pk) for e in entries[1:3])
    fields = ["at", "actor", "action", "tip_reference", "detail", "previous_hash", "entry_hash"]
    AuditEntry.objects.filter(pk=b.pk).update(entry_hash="x" * 64)  # keep the unique index happy
    AuditEntry.objects.filter(pk=a.pk).update(**{f: getattr(b, f) for f in fields})
    AuditEntry.objects.filter(pk=b.pk).update(**{f: getattr(a, f) for f in fields})
    check = audit_verify()
    assert check.first_broken_id == entries[1].pk


def test_inserting_a_well_formed_entry_in_the_middle_is_detected() -> None:
    entries = record(4)
    # Make room after the second entry, then insert one correctly chained to it.
    for entry in reversed(entries[2:]):
        AuditEntry.objects.filter(pk=entry.pk).update(id=entry.pk + 100)
    inserted = AuditEntry(
        id=entries[1].pk + 50,
        at=entries[1].at,
        actor="mallory",
        action=Action.LOGIN,
        previous_hash=entries[1].entry_hash,
    )
    inserted.entry_hash = forged_hash(inserted)
    inserted.save()
    check = audit_verify()
    assert check.first_broken_id == entries[2].pk + 100
    assert "does not follow" in check.reason


def test_appending_an_entry_that_skips_the_last_is_detected() -> None:
    entries = record(3)
    forged = AuditEntry(
        at=entries[0].at, actor="x", action="login", previous_hash=entries[0].entry_hash
    )
    forged.entry_hash = forged_hash(forged)
    forged.save()
    assert audit_verify().first_broken_id == forged.pk


# --- Entries appended in a batch (audit_record_many) ------------------------------------------


def test_a_batch_chains_like_entries_appended_one_by_one() -> None:
    before = record(2)
    batch = record_many(4, first=2)
    after = record(1)
    stored = list(AuditEntry.objects.order_by("id"))
    assert [e.pk for e in stored] == [e.pk for e in before + batch + after]
    # In order, each chained to the one before, the first to what was the last entry.
    previous = before[-1].entry_hash
    for entry, saved in zip(batch, stored[2:6], strict=True):
        assert (saved.previous_hash, saved.entry_hash) == (previous, entry.entry_hash)
        assert saved.entry_hash == forged_hash(saved)  # the same scheme as one by one
        previous = saved.entry_hash
    assert [(e.actor, e.tip_reference, e.detail) for e in stored[2:6]] == [
        ("ana", f"T{i:03d}", {"n": i}) for i in range(2, 6)
    ]
    assert after[0].previous_hash == batch[-1].entry_hash
    check = audit_verify()
    assert check.intact and check.entries == 7


def test_a_batch_on_an_empty_log_starts_at_genesis_and_nothing_appends_nothing() -> None:
    assert audit_record_many([]) == []
    assert not AuditEntry.objects.exists()
    first, *_ = record_many(3)
    assert first.previous_hash == GENESIS_HASH
    assert audit_verify().intact


@pytest.mark.parametrize(
    "change", [{"detail": {"n": 999}}, {"actor": "mallory"}, {"tip_reference": "OTHER"}]
)
def test_changing_an_entry_of_a_batch_is_detected_at_that_entry(change: dict) -> None:
    record(1)
    batch = record_many(5, first=1)
    AuditEntry.objects.filter(pk=batch[2].pk).update(**change)
    check = audit_verify()
    assert check.first_broken_id == batch[2].pk
    assert "changed" in check.reason


def test_deleting_an_entry_of_a_batch_is_detected() -> None:
    batch = record_many(5)
    AuditEntry.objects.filter(pk=batch[1].pk).delete()
    check = audit_verify()
    assert check.first_broken_id == batch[2].pk
    assert "does not follow" in check.reason


def test_a_batch_costs_the_same_queries_whatever_its_size() -> None:
    record(1)
    with CaptureQueriesContext(connection) as few:
        record_many(3)
    with CaptureQueriesContext(connection) as many:
        record_many(120, first=3)
    assert len(many) == len(few)
    assert audit_verify().intact


# --- manage.py verify_audit_log -------------------------------------------------------------


def test_command_reports_an_intact_log_with_its_last_hash() -> None:
    entries = record(3)
    assert verify_output().strip() == (
        f"audit log intact: 3 entries, last hash {entries[-1].entry_hash}"
    )
    assert exit_code() == 0


def test_command_on_an_empty_log() -> None:
    assert verify_output().strip() == f"audit log intact: 0 entries, last hash {GENESIS_HASH}"


def test_command_names_the_first_broken_entry_and_exits_non_zero(capsys) -> None:
    entries = record(4)
    AuditEntry.objects.filter(pk=entries[1].pk).update(detail={"n": "forged"})
    with pytest.raises(CommandError, match=rf"entry {entries[1].pk} was changed"):
        verify_output()
    capsys.readouterr()
    assert exit_code() == 1
    err = capsys.readouterr().err
    assert f"entry {entries[1].pk}" in err
    assert "intact" not in err


def test_command_checks_a_pinned_hash() -> None:
    entries = record(4)
    pinned = entries[1].entry_hash
    record(2)
    out = io.StringIO()
    call_command("verify_audit_log", "--pinned", pinned, stdout=out)
    assert "audit log intact: 6 entries" in out.getvalue()
    assert "pinned hashes found: 1" in out.getvalue()
    # Rebuilding the chain from the third entry on (a cleaner forgery than editing
    # in place) keeps it intact but loses the pinned hash.
    AuditEntry.objects.filter(pk__gte=entries[1].pk).delete()
    record(3, actor="mallory")
    assert audit_verify().intact
    with pytest.raises(CommandError, match="pinned hash"):
        call_command("verify_audit_log", "--pinned", pinned, stdout=io.StringIO())
    assert exit_code("--pinned", pinned) == 1


def test_command_accepts_the_genesis_hash_as_pin() -> None:
    out = io.StringIO()
    call_command("verify_audit_log", "--pinned", GENESIS_HASH, stdout=out)
    assert "intact" in out.getvalue()


# --- The admin page -------------------------------------------------------------------


def test_audit_page_is_for_admins_only(editor_client, admin) -> None:
    assert editor_client.get("/staff/audit/").status_code == 403
    assert editor_client.get("/staff/audit/?verify=1").status_code == 403


def test_anonymous_visitors_are_sent_to_login(db) -> None:
    response = Client().get("/staff/audit/")
    assert response.status_code == 302
    assert response["Location"].startswith("/staff/login/")


def test_audit_page_lists_entries_newest_first_with_labels(admin_client) -> None:
    audit_record(
        actor="ana",
        action=Action.STATUS_CHANGED,
        tip_reference="ABCD-EFGH-JKMN",
        detail={"from": "new", "to": "verified"},
    )
    response = admin_client.get("/staff/audit/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Changed the status from “New” to “Verified”." in body
    assert "ABCD-EFGH-JKMN" in body
    assert "from: new" not in body
    # Newest first: the status change comes before the admin's own login.
    assert body.index("Changed the status") < body.index("Signed in.")


def test_every_action_has_a_human_label() -> None:
    from tipline.triage.audit_log import ACTION_LABELS

    values = {v for k, v in vars(Action).items() if not k.startswith("_")}
    assert values == set(ACTION_LABELS)


def test_audit_page_is_paginated_by_fifty(admin_client) -> None:
    record(120)  # plus the admin's login: 121 entries
    first = admin_client.get("/staff/audit/").content.decode()
    assert first.count("<tr>") + first.count("<tr ") == 51  # header row + 50
    assert "T119" in first and "T070" in first and "T069" not in first
    last = admin_client.get("/staff/audit/?page=3").content.decode()
    assert "T000" in last


def test_verification_runs_only_when_asked(admin_client, monkeypatch) -> None:
    calls = []
    import tipline.triage.views.audit as audit_views

    real = audit_views.audit_verify
    monkeypatch.setattr(audit_views, "audit_verify", lambda: calls.append(1) or real())
    admin_client.get("/staff/audit/")
    assert calls == []
    admin_client.get("/staff/audit/?verify=1")
    assert calls == [1]


def test_audit_page_says_whether_the_chain_verifies(admin_client) -> None:
    entries = record(3)
    body = admin_client.get("/staff/audit/?verify=1", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # The three, the admin's creation and their sign-in.
    assert "The chain verifies: 5 entries" in body
    last = AuditEntry.objects.order_by("-id").first()
    assert last.entry_hash in body
    AuditEntry.objects.filter(pk=entries[1].pk).update(actor="mallory")
    body = admin_client.get("/staff/audit/?verify=1", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"The chain is broken at entry #{entries[1].pk}" in body
    assert "changed after it was written" in body
    assert "The chain verifies" not in body


def test_audit_page_escapes_what_it_shows(admin_client) -> None:
    audit_record(
        actor="<script>alert(1)</script>", action="<b>odd</b>", detail={"<i>k</i>": "<img src=x>"}
    )
    body = admin_client.get("/staff/audit/").content.decode()
    assert "<script>alert(1)" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<b>odd" not in body and "<img src=x>" not in body and "<i>k" not in body


def test_audit_page_never_shows_tip_content(make_editor, open_tipline, client) -> None:
    admin = make_editor("root", admin=True)  # before the tip: gets a grant
    secret = f"CANARY-{secrets.token_hex(8)}"
    submit_tip(
        client,
        note=f"nota {secret}",
        links=f"https://example.org/{secret}",
        files=[(f"{secret}.txt", b"plain text " + secret.encode())],
    )
    tip = Tip.objects.get()
    admin_client = signed_in_client(admin)
    assert admin_client.get(f"/staff/tips/{tip.reference}/").status_code == 200
    body = admin_client.get("/staff/audit/?verify=1").content.decode()
    assert tip.reference in body
    assert secret not in body
    for entry in AuditEntry.objects.all():
        assert secret not in str(entry.detail) + entry.actor + entry.tip_reference
    assert set(AuditEntry.objects.values_list("action", flat=True)) >= {
        Action.LOGIN,
        Action.TIP_VIEWED,
    }
