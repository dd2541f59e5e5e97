"""Celery tasks: an interface only. They take ids, and a service does the work."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from tipline.keyring import KeyringError
from tipline.worker.pipeline import attachment_process


@shared_task(
    # The name it had when the worker lived in tipline/intake/: messages queued
    # by an older web process must still find it after an upgrade.
    name="tipline.intake.tasks.process_attachment",
    acks_late=True,
    # A worker killed mid-file gives the message back to the broker, and the
    # service is idempotent, so the next worker simply finishes the job.
    reject_on_worker_lost=True,
    autoretry_for=(KeyringError, OSError),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
)
def process_attachment(attachment_id: int) -> None:
    attachment_process(attachment_id=attachment_id)
