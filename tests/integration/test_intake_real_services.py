"""A tip through the real parts: PostgreSQL, a Celery worker on Redis, S3 via django-storages."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.conftest import RECOVERY_PASSPHRASE
from tests.http_client import Browser
from tests.integration.conftest import all_objects, wait_until
from tipline.models import Attachment, Grant, RecipientKey, Tip

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def pipeline_grant_dropped(tip: Tip) -> bool:
    return not Grant.objects.filter(tip=tip, recipient__kind=RecipientKey.Kind.PIPELINE).exists()


def all_processed(tip: Tip) -> bool:
    states = set(Attachment.objects.filter(tip=tip).values_list("state", flat=True))
    return states == {Attachment.State.DONE}


def test_tip_is_processed_by_the_worker_and_stored_encrypted_on_s3(
    live_server, real_services, recovery_key, tmp_path: Path, monkeypatch
) -> None:
    canary = f"CANARY{secrets.token_hex(8)}"
    binary = secrets.token_bytes(3 * 1024 * 1024) + canary.encode() + secrets.token_bytes(4096)
    text = f"una línea con {canary}\n".encode()
    response = Browser(live_server.url).submit_tip(
        note=f"nota {canary}", files=[("datos.bin", binary), ("texto.txt", text)]
    )
    assert response.status == 200, response.text
    tip = Tip.objects.get()
    wait_until(
        lambda: all_processed(tip), what="the worker to process both files\n" + real_services.log()
    )
    wait_until(lambda: pipeline_grant_dropped(tip), what="the pipeline grant to be dropped")

    objects = all_objects()
    # Raw blobs gone; the clean ones wait in the spool for their batch (docs/arrivals.md).
    assert sorted(key.split("-")[0] for key, _ in objects) == ["spool/clean", "spool/clean"]
    for key, content in objects:
        assert canary.encode() not in content, key
    assert "CANARY" not in real_services.log()

    monkeypatch.setenv("TIPLINE_RECOVERY_PASSPHRASE", RECOVERY_PASSPHRASE)
    call_command(
        "export_tips", "--recovery-key", str(recovery_key.path), "--output", str(tmp_path / "out")
    )
    files = tmp_path / "out" / tip.reference / "files"
    assert (files / "datos.bin").read_bytes() == binary
    assert (files / "texto.txt").read_bytes() == text
    assert (tmp_path / "out" / tip.reference / "note.txt").read_text() == f"nota {canary}\n"


def test_tasks_queued_while_no_worker_runs_are_done_when_it_starts(
    live_server, real_services, recovery_key
) -> None:
    real_services.stop()
    try:
        response = Browser(live_server.url).submit_tip(
            files=[("a.txt", b"queued while the worker was down")]
        )
        assert response.status == 200
        tip = Tip.objects.get()
        assert Attachment.objects.get(tip=tip).state == Attachment.State.RECEIVED
        assert [key.split("-")[0] for key, _ in all_objects()] == ["spool/raw"]
    finally:
        real_services.start()
    wait_until(
        lambda: all_processed(tip), what="the restarted worker to finish\n" + real_services.log()
    )
    # The raw blob is deleted just after the commit that marks the file done,
    # and the pipeline grant is dropped after that.
    wait_until(lambda: pipeline_grant_dropped(tip), what="the pipeline grant to be dropped")
    assert [key.split("-")[0] for key, _ in all_objects()] == ["spool/clean"]
