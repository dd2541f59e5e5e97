"""Celery tasks of retention, an interface only: the daily run and every window's batch."""

from __future__ import annotations

from celery import shared_task

from tipline.retention.scheduler import daily_maintenance_run
from tipline.retention.settle import arrivals_settle_scheduled

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


# Copying a window's uploads on a slow object store can take a while; a batch cut
# off is finished by the next one (every step is safe to repeat).
SETTLE_TIME_LIMIT = 6 * 3600


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    time_limit=SETTLE_TIME_LIMIT,
    soft_time_limit=SETTLE_TIME_LIMIT - 60,
)
def settle_arrivals() -> None:
    # The window is the one that ended before the task runs, wherever it was queued.
    arrivals_settle_scheduled()
