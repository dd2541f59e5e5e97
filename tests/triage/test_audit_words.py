"""The audit page in words (#16): one sentence per entry, stored values as the interface says
them, links to what the admin may open; what is stored (and hashed) stays as it was."""

from __future__ import annotations

import html
import re

import pytest
from django.utils import translation

from tests.triage.helpers import granted_tip, signed_in_client
from tipline.audit import (
    COMMAND_LINE_ACTOR,
    NOBODY,
    RETENTION_ACTOR,
    Action,
    audit_record,
    audit_verify,
)
from tipline.models import AuditEntry, Tip

pytestmark = pytest.mark.django_db

AUDIT = "/staff/audit/"


def make_tip() -> Tip:
    return granted_tip()


def row_of(body: str, entry: AuditEntry) -> str:
    """The table row of one entry (its first cell is the entry's number)."""
    found = re.search(rf"<tr[^>]*>\s*<td>{entry.pk}</td>(.*?)</tr>", body, re.S)
    assert found, f"no row for entry {entry.pk}"
    return found.group(1)


def shown(client, entry: AuditEntry, lang: str = "en") -> str:
    return row_of(client.get(AUDIT, HTTP_ACCEPT_LANGUAGE=lang).content.decode(), entry)


def text_of(row: str) -> str:
    """The row as read: tags dropped (cells are apart by the template's line breaks)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", row)).split())


# --- Values in words -------------------------------------------------------------------------


def test_a_status_change_names_the_statuses_as_the_interface_does(admin_client) -> None:
    entry = audit_record(
        actor="ana",
        action=Action.STATUS_CHANGED,
        tip_reference="ABCD-EFGH-JKMN",
        detail={"from": "new", "to": "in_review"},
    )
    row = shown(admin_client, entry)
    assert "Changed the status from “New” to “In review”." in row
    assert "in_review" not in row and "from:" not in row
    with translation.override("es"):
        new, in_review = str(Tip.Status.NEW.label), str(Tip.Status.IN_REVIEW.label)
    assert f"Cambió el estado de «{new}» a «{in_review}»." in shown(admin_client, entry, "es")


def test_tags_are_a_list_in_words_not_python(admin_client) -> None:
    entry = audit_record(
        actor="ana",
        action=Action.TAGS_CHANGED,
        tip_reference="ABCD-EFGH-JKMN",
        detail={"tags": ["harbour", "customs"]},
    )
    row = shown(admin_client, entry)
    assert "Set the tags to: harbour, customs." in row
    assert "[" not in text_of(row) and "&#x27;" not in row
    emptied = audit_record(actor="ana", action=Action.TAGS_CHANGED, detail={"tags": []})
    assert "Removed every tag." in shown(admin_client, emptied)


def test_a_file_seen_in_the_browser_says_so_in_words(admin_client) -> None:
    viewed = audit_record(
        actor="ana", action=Action.FILE_DOWNLOADED, detail={"file": 2, "inline": True}
    )
    downloaded = audit_record(
        actor="ana", action=Action.FILE_DOWNLOADED, detail={"file": 1, "inline": False}
    )
    assert "Viewed file 2 in the browser." in shown(admin_client, viewed)
    assert "Downloaded file 1." in shown(admin_client, downloaded)
    assert "inline" not in shown(admin_client, viewed) and "True" not in shown(admin_client, viewed)
    assert "Vio el archivo 2 en el navegador." in shown(admin_client, viewed, "es")


def test_a_retention_change_says_what_changed(admin_client) -> None:
    entry = audit_record(
        actor="root",
        action=Action.RETENTION_CHANGED,
        detail={"from": {"default": 365, "discarded": 30}, "to": {"default": 90}},
    )
    text = text_of(shown(admin_client, entry))
    assert (
        "Changed the retention policy: every tip: from 365 days to 90 days; "
        "the status “Discarded”: from 30 days to the default period."
    ) in text


def test_fixed_actors_are_named_in_the_readers_language(admin_client) -> None:
    swept = audit_record(
        actor=RETENTION_ACTOR, action=Action.UPLOADS_SWEPT, detail={"files_failed": 0, "orphans": 2}
    )
    by_command = audit_record(
        actor=COMMAND_LINE_ACTOR,
        action=Action.EDITOR_CREATED,
        detail={"editor": "bea", "admin": False},
    )
    failed = audit_record(actor=NOBODY, action=Action.LOGIN_FAILED)
    assert "The retention policy" in shown(admin_client, swept)
    assert "La política de conservación" in shown(admin_client, swept, "es")
    assert "2 stored files that belonged to no tip were deleted" in shown(admin_client, swept)
    assert "La línea de comandos" in shown(admin_client, by_command, "es")
    assert "Created the editor account bea." in shown(admin_client, by_command)
    assert "A sign-in failed" in shown(admin_client, failed)


# Every kind of entry, with the detail its service writes (tipline/**: audit_record calls).
WRITTEN = [
    (Action.LOGIN, {}, "Signed in."),
    (Action.LOGIN_FAILED, {}, "A sign-in failed (the name typed is not recorded)."),
    (Action.LOGOUT, {}, "Signed out."),
    (
        Action.PASSWORD_CHANGED,
        {"key": "k2", "previous": "k1", "grants_moved": 3, "grants_dropped": 1},
        "Changed their password; their new key is k2. 3 tips moved to it. "
        "1 tip could not be moved (its access was damaged).",
    ),
    (Action.TIP_VIEWED, {}, "Opened the tip."),
    (Action.FILE_DOWNLOADED, {"file": 1, "inline": False}, "Downloaded file 1."),
    (
        Action.STATUS_CHANGED,
        {"from": "new", "to": "verified"},
        "Changed the status from “New” to “Verified”.",
    ),
    (Action.ASSIGNEE_CHANGED, {"to": "bea"}, "Assigned the tip to bea."),
    (Action.ASSIGNEE_CHANGED, {"to": ""}, "Left the tip assigned to nobody."),
    (Action.TAGS_CHANGED, {"tags": ["a"]}, "Set the tags to: a."),
    (Action.NOTE_ADDED, {}, "Added an internal note."),
    (Action.GRANT_ADDED, {"to": "bea"}, "Gave bea access to the tip."),
    (Action.GRANT_REVOKED, {"from": "bea"}, "Took away the access of bea to the tip."),
    (Action.REVOCATION_LIFTED, {"for": "bea"}, "Allowed bea to be given access to the tip again."),
    (
        Action.EDITOR_CREATED,
        {"editor": "bea", "admin": True, "sign_in_code": True},
        "Created the admin account bea. A one-time sign-in code was issued for the first sign-in.",
    ),
    (
        Action.EDITOR_DEACTIVATED,
        {"editor": "bea", "grants_removed": 4},
        "Deactivated bea; their access to 4 tips was deleted.",
    ),
    (
        Action.TIP_DELETED,
        {"policy": "discarded:30"},
        "Deleted the tip: it had been “Discarded” for longer than the 30 days the retention "
        "policy keeps it.",
    ),
    (
        Action.TIP_DELETED,
        {"purge": "finished"},
        "Deleted the tip: finished a deletion that had been interrupted.",
    ),
    (
        Action.RETENTION_CHANGED,
        {"from": {"default": 30}, "to": {"default": 31}},
        "Changed the retention policy: every tip: from 30 days to 31 days.",
    ),
    (Action.LEGAL_HOLD_SET, {}, "Set a legal hold on the tip."),
    (Action.LEGAL_HOLD_LIFTED, {}, "Lifted the legal hold on the tip."),
    (
        Action.UPLOADS_SWEPT,
        {"files_failed": 1, "orphans": 0, "pending_uploads": 2, "interrupted_uploads": 1},
        "Cleaned up abandoned uploads: 1 file never processed was marked as failed; 2 files sent "
        "ahead without a tip were deleted; 1 interrupted upload to the storage was cancelled.",
    ),
    (Action.SECOND_FACTOR_RESET, {"editor": "bea"}, "Reset the second factor of bea."),
    (Action.ENROLMENT_BEGUN, {}, "Signed in with a sign-in code to set up a second factor."),
    (
        Action.SECOND_FACTOR_ENROLLED,
        {"password_changed": True},
        "Set up their authenticator and chose their own password.",
    ),
    (
        Action.RECOVERY_KEY_CREATED,
        {"fingerprint": "f2", "previous": "", "tips_granted": 1},
        "Created the recovery key f2. 1 tip given to it.",
    ),
    (
        Action.RECOVERY_KEY_ROTATED,
        {"fingerprint": "f2", "previous": "f1", "tips_granted": 5, "tips_not_granted": 2},
        "Replaced the recovery key f1 with f2. 5 tips given to it. "
        "2 tips the admin could not read were not given to it.",
    ),
    (
        Action.PIPELINE_KEY_REGISTERED,
        {"fingerprint": "p1", "previous": ""},
        "Registered the worker's key p1.",
    ),
    (
        Action.PIPELINE_KEY_ROTATED,
        {"fingerprint": "p2", "previous": "p1", "grants_moved": 2, "grants_unreadable": 1},
        "Replaced the worker's key p1 with p2. 2 tips still being processed moved to it. "
        "1 tip could not be moved (its access was damaged).",
    ),
    (Action.FLOOD_DISCARDED, {"count": 1}, "Discarded 1 tip that arrived during a flood."),
    (Action.REPLY_SENT, {}, "Sent a reply to the source."),
    (Action.REPLY_DELETED, {}, "Deleted a reply to the source."),
    (Action.CONVERSATION_CLOSED, {}, "Closed the conversation with the source."),
]


def test_every_action_has_a_sentence_and_an_example_here() -> None:
    from tipline.triage.audit_log import SENTENCES

    actions = {v for k, v in vars(Action).items() if not k.startswith("_")}
    assert set(SENTENCES) == actions
    assert {action for action, _detail, _words in WRITTEN} == actions


@pytest.mark.parametrize(("action", "detail", "words"), WRITTEN, ids=[w[0] for w in WRITTEN])
def test_each_kind_of_entry_reads_as_a_sentence(admin_client, action, detail, words) -> None:
    entry = audit_record(actor="root", action=action, detail=detail)
    text = text_of(shown(admin_client, entry))
    assert words in text
    assert "(recorded:" not in text and "Also recorded" not in text  # no fallback


@pytest.mark.parametrize(("action", "detail", "_words"), WRITTEN, ids=[w[0] for w in WRITTEN])
def test_each_sentence_is_translated(admin_client, action, detail, _words) -> None:
    entry = audit_record(actor="root", action=action, detail=detail)
    english = text_of(shown(admin_client, entry))
    spanish = text_of(shown(admin_client, entry, "es"))
    assert spanish != english


# --- Links -------------------------------------------------------------------------------------


def test_a_tip_the_admin_can_read_is_a_link_to_its_page(admin, admin_client) -> None:
    readable = make_tip()  # made after the admin: granted to them
    entry = audit_record(actor="root", action=Action.TIP_VIEWED, tip_reference=readable.reference)
    row = shown(admin_client, entry)
    assert f'<a href="/staff/tips/{readable.reference}/" class="reference">' in row


def test_a_tip_the_admin_cannot_open_is_plain_text(admin, make_editor) -> None:
    tip = make_tip()  # before the second admin exists: no grant to them
    other_admin = make_editor("boss", admin=True)
    entries = [
        audit_record(actor="root", action=Action.TIP_VIEWED, tip_reference=tip.reference),
        audit_record(
            actor="root",
            action=Action.TIP_DELETED,
            tip_reference="GONE-GONE-GONE",
            detail={"purge": "finished"},
        ),
    ]
    client = signed_in_client(other_admin)
    for entry in entries:
        row = shown(client, entry)
        assert entry.tip_reference in row
        assert "/staff/tips/" not in row


def test_accounts_link_to_their_row_on_the_editors_page(admin, make_editor, admin_client) -> None:
    bea = make_editor("bea")
    entry = audit_record(actor="root", action=Action.GRANT_ADDED, detail={"to": "bea"})
    row = shown(admin_client, entry)
    anchor = f"editor-{bea.user.pk}"
    assert f'<a href="/staff/editors/#{anchor}">bea</a>' in row
    assert f'<a href="/staff/editors/#editor-{admin.user.pk}">root</a>' in row  # who did it
    assert f'id="{anchor}"' in admin_client.get("/staff/editors/").content.decode()
    nobody = audit_record(actor="root", action=Action.GRANT_ADDED, detail={"to": "ghost"})
    assert "Gave ghost access" in shown(admin_client, nobody)
    assert "#editor-" not in shown(admin_client, nobody).split("Gave", 1)[1]


def test_links_cost_the_same_queries_however_many_entries(admin, admin_client) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            admin_client.get(AUDIT)
        return len(captured.captured_queries)

    audit_record(actor="root", action=Action.TIP_VIEWED, tip_reference=make_tip().reference)
    few = queries()
    for _ in range(10):
        audit_record(
            actor="root",
            action=Action.GRANT_ADDED,
            tip_reference=make_tip().reference,
            detail={"to": "root"},
        )
    assert queries() == few


# --- What is stored stays; odd entries are shown, not hidden ------------------------------------


def test_showing_the_page_changes_nothing_stored(admin_client) -> None:
    for action, detail, _words in WRITTEN:
        audit_record(actor="root", action=action, detail=detail)
    before = list(AuditEntry.objects.order_by("id").values_list("id", "detail", "entry_hash"))
    assert admin_client.get(AUDIT).status_code == 200
    assert admin_client.get(f"{AUDIT}?verify=1", HTTP_ACCEPT_LANGUAGE="es").status_code == 200
    after = list(AuditEntry.objects.order_by("id").values_list("id", "detail", "entry_hash"))
    assert after == before
    assert audit_verify().intact


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        ({"from": 3, "to": None}, "Changed status (recorded: from: 3; to: None)"),
        ({"to": "verified"}, "Changed status (recorded: to: verified)"),
        (["new", "verified"], "Changed status (recorded: new, verified)"),
        (
            {"from": "new", "to": "verified", "why": "x"},
            "Changed the status from “New” to “Verified”. Also recorded: why: x.",
        ),
    ],
)
def test_an_entry_of_an_unexpected_shape_is_shown_as_stored(admin_client, detail, expected):
    entry = audit_record(actor="root", action=Action.STATUS_CHANGED, detail=detail)
    assert expected in text_of(shown(admin_client, entry))


def test_an_unknown_action_is_shown_with_its_values(admin_client) -> None:
    entry = audit_record(actor="root", action="made_coffee", detail={"cups": 2, "hot": True})
    assert "made_coffee (recorded: cups: 2; hot: yes)" in text_of(shown(admin_client, entry))
