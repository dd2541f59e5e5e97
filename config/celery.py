"""The Celery application.

With no ``CELERY_BROKER_URL`` the settings make every task run in-process
(``task_always_eager``), so the embedded default needs no broker. Workers are
started with ``celery -A config worker``.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tipline")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Task modules live in the concern packages (tipline/intake/tasks.py, ...).
app.autodiscover_tasks(["tipline.intake"])
