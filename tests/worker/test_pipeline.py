"""The worker's processing: idempotent, survives a crash mid-file, rejects tampered blobs."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from tests.arrivals_support import blob_path
from tests.conftest import all_files_under
from tests.intake.helpers import submit_tip
from tipline.models import Attachment, Grant, RecipientKey
from tipline.storage import blob_exists
from tipline.worker import pipeline
from tipline.worker.pipeline import attachment_process

pytestmark = pytest.mark.django_db


@pytest.fixture
def unprocessed(client: Client, open_tipline, monkeypatch) -> Attachment:
    """A tip with one file whose processing has not run (the broker never delivered)."""
    monkeypatch.setattr("tipline.worker.tasks.process_attachment.delay", lambda *a, **k: None)
    submit_tip(client, note="n", files=[("doc.txt", b"some text " * 5000)])
    attachment = Attachment.objects.get()
    assert attachment.state == Attachment.State.RECEIVED and blob_exists(attachment.raw_blob)
    return attachment


def pipeline_grant_exists(attachment: Attachment) -> bool:
    return Grant.objects.filter(
        tip=attachment.tip, recipient__kind=RecipientKey.Kind.PIPELINE
    ).exists()


def test_processing_twice_is_harmless(unprocessed: Attachment) -> None:
    attachment_process(attachment_id=unprocessed.pk)
    done = Attachment.objects.get()
    attachment_process(attachment_id=unprocessed.pk)
    again = Attachment.objects.get()
    assert done.state == again.state == Attachment.State.DONE
    assert done.clean_blob == again.clean_blob and again.attempts == 1
    assert not pipeline_grant_exists(again)


def test_a_crash_mid_file_is_finished_by_the_next_run(
    unprocessed: Attachment, monkeypatch, blob_storage: Path
) -> None:
    real_sanitize = pipeline.sanitize

    def crash_halfway(source, sink, **kwargs):
        sink.write(source.read(1000))
        raise SystemExit("worker killed")

    monkeypatch.setattr(pipeline, "sanitize", crash_halfway)
    with pytest.raises(SystemExit):
        attachment_process(attachment_id=unprocessed.pk)
    crashed = Attachment.objects.get()
    assert crashed.state == Attachment.State.RECEIVED
    assert blob_exists(crashed.raw_blob) and crashed.clean_blob
    assert pipeline_grant_exists(crashed)

    monkeypatch.setattr(pipeline, "sanitize", real_sanitize)
    attachment_process(attachment_id=unprocessed.pk)
    finished = Attachment.objects.get()
    assert finished.state == Attachment.State.DONE
    assert finished.clean_blob == crashed.clean_blob  # rewritten, not orphaned
    assert finished.raw_blob == ""
    assert len(all_files_under(blob_storage)) == 1
    assert not pipeline_grant_exists(finished)


def test_a_leftover_raw_blob_after_commit_is_deleted(unprocessed: Attachment, monkeypatch) -> None:
    monkeypatch.setattr(pipeline, "blob_forget", lambda name: False)  # storage refuses once
    attachment_process(attachment_id=unprocessed.pk)
    stuck = Attachment.objects.get()
    assert stuck.state == Attachment.State.DONE and blob_exists(stuck.raw_blob)
    monkeypatch.undo()
    attachment_process(attachment_id=unprocessed.pk)
    assert Attachment.objects.get().raw_blob == ""
    assert not blob_exists(stuck.raw_blob)


def test_a_tampered_raw_blob_fails_alone(unprocessed: Attachment, blob_storage: Path) -> None:
    raw_path = blob_path(blob_storage, unprocessed.raw_blob)
    data = bytearray(raw_path.read_bytes())
    data[len(data) // 2] ^= 0x01
    raw_path.write_bytes(bytes(data))
    attachment_process(attachment_id=unprocessed.pk)
    failed = Attachment.objects.get()
    assert failed.state == Attachment.State.FAILED
    assert failed.clean_blob == "" and failed.raw_blob == ""
    assert all_files_under(blob_storage) == []
    assert not pipeline_grant_exists(failed)


def test_a_deleted_attachment_is_skipped(unprocessed: Attachment) -> None:
    unprocessed.tip.delete()
    attachment_process(attachment_id=unprocessed.pk)  # no error
