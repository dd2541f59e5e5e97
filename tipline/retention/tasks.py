"""Celery tasks of retention: an interface only. Celery beat sends this one once a day."""

from __future__ import annotations

from celery import shared_task

from tipline.retention.scheduler import daily_maintenance_run

# A purge of many tips on a slow object store can take longer than cleaning one
# file (CELERY_TASK_TIME_LIMIT); if it is cut off anyway, tomorrow's run finishes it.
DAILY_TIME_LIMIT = 6 * 3600


@shared_task(
    # A worker killed mid-run gives the message back; every step is idempotent.
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=DAILY_TIME_LIMIT,
    soft_time_limit=DAILY_TIME_LIMIT - 60,
)
def daily_maintenance() -> None:
    daily_maintenance_run()
