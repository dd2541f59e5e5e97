"""The purge works per batch: a few SQL queries per batch, one audit append, the same order."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.retention.helpers import tip_make
from tipline.audit import Action, audit_record, audit_verify
from tipline.models import Attachment, AuditEntry, EditorNote, Grant, RetentionPolicy, Tag, Tip
from tipline.retention import purge
from tipline.retention.purge import RETENTION_ACTOR, tips_purge_expired
from tipline.storage import blob_exists

pytestmark = pytest.mark.django_db

START = date(2026, 3, 10)
DAY = START + timedelta(days=30)  # RetentionPolicy.current()'s default for "discarded"


def deletions() -> list[tuple[str, str, dict]]:
    return list(
        AuditEntry.objects.filter(action=Action.TIP_DELETED)
        .order_by("id")
        .values_list("actor", "tip_reference", "detail")
    )


def tips_make(count: int, **kwargs) -> list:
    return [tip_make(changed_on=START, status="discarded", **kwargs) for _ in range(count)]


def test_the_queries_of_a_purge_do_not_grow_with_the_number_of_tips(recovery_key) -> None:
    RetentionPolicy.current()  # made once, before either count
    tag = Tag.objects.create(name="harbour")
    entries_before = AuditEntry.objects.count()

    def purge_counted(count: int) -> int:
        made = tips_make(count, editor_note=True)
        for tip in made[::3]:
            tip.tip.tags.add(tag)
        with CaptureQueriesContext(connection) as queries:
            summary = tips_purge_expired(as_of=DAY, batch_size=100)
        assert (summary.tips_deleted, summary.blobs_deleted) == (count, 2 * count)
        return len(queries)

    few, many = purge_counted(10), purge_counted(50)
    assert many == few, f"{few} queries for 10 tips, {many} for 50"
    assert not Tip.objects.exists() and not Attachment.objects.exists()
    assert not EditorNote.objects.exists() and not Grant.objects.exists()
    assert not Tip.tags.through.objects.exists()
    assert Tag.objects.filter(pk=tag.pk).exists()  # the label is the newsroom's, not the tip's
    check = audit_verify()
    assert check.intact and check.entries == entries_before + 60


def test_each_batch_costs_the_same_queries_whatever_its_size(recovery_key) -> None:
    RetentionPolicy.current()

    def purge_counted(count: int, batch_size: int) -> int:
        tips_make(count)
        with CaptureQueriesContext(connection) as queries:
            assert tips_purge_expired(as_of=DAY, batch_size=batch_size).tips_deleted == count
        return len(queries)

    # Three batches either way: of 2 tips, then of 5.
    assert purge_counted(6, batch_size=2) == purge_counted(15, batch_size=5)
    assert audit_verify().intact


def test_entries_keep_their_order_and_content_and_the_chain_verifies(recovery_key) -> None:
    audit_record(actor="ana", action=Action.LOGIN)  # the batch chains onto what came before
    policy = RetentionPolicy.current()
    policy.status_days = {"discarded": 30, "published": 20, "new": 10}
    policy.save()
    made = [
        tip_make(changed_on=START, status="discarded"),
        tip_make(changed_on=START, status="new", files=2, editor_note=True),
        tip_make(changed_on=START, status="published", files=0),
        tip_make(changed_on=START + timedelta(days=900), status="new"),  # purge begun earlier
        tip_make(changed_on=START, status="discarded"),
    ]
    Tip.objects.filter(pk=made[3].tip.pk).update(purging=True)
    Grant.objects.filter(tip=made[3].tip).delete()
    last_before = AuditEntry.objects.order_by("id").last()
    entries_before = AuditEntry.objects.count()

    summary = tips_purge_expired(as_of=DAY, batch_size=50)

    assert summary.tips_deleted == 5
    assert deletions() == [
        (RETENTION_ACTOR, made[0].tip.reference, {"policy": "discarded:30"}),
        (RETENTION_ACTOR, made[1].tip.reference, {"policy": "new:10"}),
        (RETENTION_ACTOR, made[2].tip.reference, {"policy": "published:20"}),
        (RETENTION_ACTOR, made[3].tip.reference, {"purge": "finished"}),
        (RETENTION_ACTOR, made[4].tip.reference, {"policy": "discarded:30"}),
    ]
    first = AuditEntry.objects.filter(action=Action.TIP_DELETED).order_by("id").first()
    assert (first.pk, first.previous_hash) == (last_before.pk + 1, last_before.entry_hash)
    check = audit_verify()
    assert check.intact and check.entries == entries_before + 5
    audit_record(actor="ana", action=Action.LOGOUT)  # and what comes after chains onto it
    assert audit_verify().intact


def test_a_tampered_entry_of_a_batched_purge_is_detected(recovery_key) -> None:
    tips_make(4)
    tips_purge_expired(as_of=DAY, batch_size=10)
    entries = list(AuditEntry.objects.filter(action=Action.TIP_DELETED).order_by("id"))
    assert len(entries) == 4 and audit_verify().intact
    # The policy's detail made to say something else, e.g. to hide an early deletion.
    AuditEntry.objects.filter(pk=entries[2].pk).update(detail={"policy": "discarded:3650"})
    check = audit_verify()
    assert not check.intact
    assert check.first_broken_id == entries[2].pk
    assert "changed" in check.reason


def test_a_refused_blob_leaves_its_tip_pending_and_the_rest_of_the_batch_goes(
    recovery_key, monkeypatch
) -> None:
    made = tips_make(6)
    entries_before = AuditEntry.objects.count()
    stuck = made[2]
    refused = stuck.blobs[0]
    real_delete = purge.delete_blob
    monkeypatch.setattr(purge, "delete_blob", lambda name: name != refused and real_delete(name))

    summary = tips_purge_expired(as_of=DAY, batch_size=10)

    assert (summary.tips_deleted, summary.tips_pending, summary.blobs_deleted) == (5, 1, 11)
    assert list(Tip.objects.values_list("pk", flat=True)) == [stuck.tip.pk]
    assert Tip.objects.get().purging and not Grant.objects.exists()
    assert Attachment.objects.filter(tip=stuck.tip).count() == 1
    assert [name for tip in made for name in tip.blobs if blob_exists(name)] == [refused]
    others = [tip for tip in made if tip is not stuck]
    assert [row[1] for row in deletions()] == [tip.tip.reference for tip in others]
    assert audit_verify().intact

    monkeypatch.setattr(purge, "delete_blob", real_delete)  # the storage is back
    retried = tips_purge_expired(as_of=DAY, batch_size=10)
    assert (retried.tips_deleted, retried.tips_pending) == (1, 0)
    assert not Tip.objects.exists() and not Attachment.objects.exists()
    assert deletions()[-1] == (RETENTION_ACTOR, stuck.tip.reference, {"purge": "finished"})
    check = audit_verify()
    assert check.intact and check.entries == entries_before + 6


def test_per_batch_the_order_holds_while_batches_overlap(recovery_key, monkeypatch) -> None:
    made = tips_make(7)
    events: list[tuple[str, frozenset[int]]] = []
    lock = threading.Lock()

    def recorded(name, real, tips_of):
        def wrapper(*args, **kwargs):
            tips = frozenset(tips_of(*args, **kwargs))
            with lock:
                events.append((f"{name} start", tips))
            result = real(*args, **kwargs)
            with lock:
                events.append((f"{name} end", tips))
            return result

        return wrapper

    monkeypatch.setattr(
        purge,
        "_tips_shred",
        recorded("shred", purge._tips_shred, lambda **kw: kw["tip_ids"]),
    )
    monkeypatch.setattr(
        purge,
        "_tip_blobs_delete",
        recorded("blobs", purge._tip_blobs_delete, lambda names: {tip for tip, _ in names}),
    )
    monkeypatch.setattr(
        purge,
        "_tip_rows_delete",
        recorded("rows", purge._tip_rows_delete, lambda **kw: kw["details"]),
    )

    assert tips_purge_expired(as_of=DAY, batch_size=2).tips_deleted == 7

    batches = [tips for what, tips in events if what == "shred start"]
    assert batches == [
        frozenset(made_tip.tip.pk for made_tip in made[first : first + 2])
        for first in range(0, 7, 2)
    ]
    for tips in batches:
        at = {what: index for index, (what, of) in enumerate(events) if of == tips}
        # Grants gone (committed) before any blob goes; every blob gone before the rows.
        assert at["shred end"] < at["blobs start"] < at["blobs end"] < at["rows start"]
    assert audit_verify().intact


def test_the_purge_deletes_every_kind_of_row_that_refers_to_a_tip() -> None:
    # The purge deletes these in bulk, then the tips without Django's collector:
    # a relation added to Tip must be added to the purge too.
    referring = {
        field.related_model
        for field in Tip._meta.get_fields(include_hidden=True)
        if field.auto_created and not field.concrete and (field.one_to_many or field.one_to_one)
    }
    assert referring == set(purge._TIP_CHILDREN)
