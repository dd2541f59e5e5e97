"""The Celery application.

With no ``CELERY_BROKER_URL`` the settings make every task run in-process
(``task_always_eager``), so the embedded default needs no broker. Workers are
started with ``celery -A config worker``; the daily maintenance (purge, sweep,
reminder) and the hourly check of the pipeline key's age are sent by one
``celery -A config beat``, and so is the arrivals' batch at the end of every
window (``TIPLINE_ARRIVAL_BATCH_MINUTES``, tipline/retention/settle.py).
Without a broker the web process runs them itself
(tipline/retention/scheduler.py).
"""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tipline")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Task modules live in the concern packages (tipline/worker/tasks.py, ...).
app.autodiscover_tasks(["tipline.worker", "tipline.retention"])

DAILY_MAINTENANCE_TASK = "tipline.retention.tasks.daily_maintenance"
# Checked every hour on a worker, where the pipeline key's file is; it rotates
# once the key is TIPLINE_PIPELINE_KEY_HOURS old (tipline/pipeline_key.py).
PIPELINE_KEY_ROTATION_TASK = "tipline.worker.tasks.pipeline_key_rotation"
SETTLE_ARRIVALS_TASK = "tipline.retention.tasks.settle_arrivals"


def arrivals_crontab(minutes: int) -> crontab:
    """The end of every window of ``minutes`` (a divisor of 60, or whole hours dividing 24)."""
    if minutes < 60:
        return crontab(minute=f"*/{minutes}")
    return crontab(minute=0, hour=f"*/{minutes // 60}")


@app.on_configure.connect
def _data_dir_prepare(sender: Celery, **_kwargs) -> None:
    # The start-up step of `celery -A config worker|beat`: the app reads
    # Django's settings right after this signal, and they need the data dir
    # and the generated key. Not at import: importing the settings imports
    # this module (config/__init__.py), and that import must write nothing.
    # In the web process, where the entry point already did it, this repeats
    # nothing but a check that the files exist.
    from config.bootstrap import prepare_data_dir

    prepare_data_dir()


@app.on_after_configure.connect
def _eager_broker(sender: Celery, **_kwargs) -> None:
    # No broker: tasks run in-process, yet Celery still takes a producer for an
    # eager call, and with no URL kombu warns "No hostname was supplied" at the
    # first tip of every process: a log line that dates it. The in-memory
    # transport connects nowhere and says nothing.
    from django.conf import settings

    if not settings.CELERY_BROKER_URL:
        sender.conf.update(broker_url="memory://localhost/")


@app.on_after_configure.connect
def _daily_schedule(sender: Celery, **_kwargs) -> None:
    # Here rather than at import: this module is imported while Django's
    # settings are still loading (config/__init__.py), and the hour is a setting.
    from django.conf import settings

    schedule = {
        "daily-maintenance": {
            "task": DAILY_MAINTENANCE_TASK,
            "schedule": crontab(minute=0, hour=settings.TIPLINE_DAILY_RUN_HOUR),
        },
        "pipeline-key-rotation": {
            "task": PIPELINE_KEY_ROTATION_TASK,
            "schedule": crontab(minute=30),
            # A check that waited past the next one is worth nothing.
            "options": {"expires": 50 * 60},
        },
        "settle-arrivals": {
            "task": SETTLE_ARRIVALS_TASK,
            "schedule": arrivals_crontab(settings.TIPLINE_ARRIVAL_BATCH_MINUTES),
            # A batch that waited past the next window's end is that one's to run.
            "options": {"expires": settings.TIPLINE_ARRIVAL_BATCH_MINUTES * 60},
        },
    }
    sender.conf.update(timezone="UTC", beat_schedule=schedule)
