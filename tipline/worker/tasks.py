"""Celery tasks: an interface only. They take ids, and a service does the work."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from tipline.audit import SYSTEM_ACTOR
from tipline.keyring import KeyringError
from tipline.pipeline_key import pipeline_key_rotate_if_due
from tipline.worker.pipeline import attachment_process, attachment_safe_copy_process

# What every task on one file shares.
_FILE_TASK_OPTIONS: dict[str, Any] = {
    "acks_late": True,
    # A worker killed mid-file gives the message back to the broker, and the
    # services are idempotent, so the next worker simply finishes the job.
    "reject_on_worker_lost": True,
    # The key may be mid-rotation; a storage error is retried. A file's own
    # failure is not an exception: the service marks it (failed, or a safe
    # copy that could not be made).
    "autoretry_for": (KeyringError, OSError),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "max_retries": 8,
    "time_limit": settings.CELERY_TASK_TIME_LIMIT,
    "soft_time_limit": settings.CELERY_TASK_SOFT_TIME_LIMIT,
}


@shared_task(
    # The name it had when the worker lived in tipline/intake/: messages queued
    # by an older web process must still find it after an upgrade.
    name="tipline.intake.tasks.process_attachment",
    **_FILE_TASK_OPTIONS,
)
def process_attachment(attachment_id: int) -> None:
    attachment_process(attachment_id=attachment_id)


@shared_task(**_FILE_TASK_OPTIONS)
def make_safe_copy(attachment_id: int) -> None:
    attachment_safe_copy_process(attachment_id=attachment_id)


@shared_task(
    # Sent every hour by Celery beat (config/celery.py): a worker holds the key
    # file, so the rotation runs where the old private half must be destroyed.
    # It rotates only once the key is TIPLINE_PIPELINE_KEY_HOURS old, so a
    # message delivered twice, or late, changes nothing.
    acks_late=True,
    time_limit=600,
    soft_time_limit=540,
)
def pipeline_key_rotation() -> None:
    pipeline_key_rotate_if_due(actor=SYSTEM_ACTOR)
