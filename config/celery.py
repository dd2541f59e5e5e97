"""The Celery application.

With no ``CELERY_BROKER_URL`` the settings make every task run in-process
(``task_always_eager``), so the embedded default needs no broker. Workers are
started with ``celery -A config worker``; the daily maintenance (purge, sweep,
reminder) is sent by one ``celery -A config beat``. Without a broker the web
process runs that itself (tipline/retention/scheduler.py).
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
def _daily_schedule(sender: Celery, **_kwargs) -> None:
    # Here rather than at import: this module is imported while Django's
    # settings are still loading (config/__init__.py), and the hour is a setting.
    from django.conf import settings

    schedule = {
        "daily-maintenance": {
            "task": DAILY_MAINTENANCE_TASK,
            "schedule": crontab(minute=0, hour=settings.TIPLINE_DAILY_RUN_HOUR),
        }
    }
    sender.conf.update(timezone="UTC", beat_schedule=schedule)
