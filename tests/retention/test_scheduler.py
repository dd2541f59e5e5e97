"""The daily run: what it does, Celery beat's schedule, and the embedded default's once-a-day thread."""

from __future__ import annotations

import fcntl
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.celery import DAILY_MAINTENANCE_TASK, app
from tipline.retention import scheduler
from tipline.retention.purge import PurgeSummary
from tipline.retention.scheduler import (
    LAST_RUN_FILE,
    LOCK_FILE,
    daily_maintenance_run,
    daily_run_if_due,
    daily_runner_start,
)
from tipline.retention.sweep import SweepSummary


@pytest.fixture
def runs(monkeypatch) -> list[int]:
    """Count the maintenance runs instead of doing them."""
    calls: list[int] = []
    monkeypatch.setattr(
        scheduler, "daily_maintenance_run", lambda: calls.append(1) or scheduler.DailyResult()
    )
    return calls


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 5, day, hour, minute, tzinfo=UTC)


# --- Once a day, after the hour, by whichever worker comes first --------------------------------


def test_runs_once_a_day_after_the_hour(runs, tmp_path: Path, settings) -> None:
    settings.TIPLINE_DAILY_RUN_HOUR = 3
    assert daily_run_if_due(now=at(1, 2, 59), data_dir=tmp_path) is False
    assert runs == []
    assert daily_run_if_due(now=at(1, 3, 0), data_dir=tmp_path) is True
    assert daily_run_if_due(now=at(1, 15, 0), data_dir=tmp_path) is False
    assert (tmp_path / LAST_RUN_FILE).read_text() == "2026-05-01\n"
    assert daily_run_if_due(now=at(2, 1, 0), data_dir=tmp_path) is False  # before the hour
    assert daily_run_if_due(now=at(2, 23, 0), data_dir=tmp_path) is True  # late start: still today
    assert len(runs) == 2
    assert oct((tmp_path / LAST_RUN_FILE).stat().st_mode & 0o777) == "0o600"


def test_a_worker_that_holds_the_lock_keeps_the_others_out(runs, tmp_path: Path) -> None:
    other_worker = os.open(tmp_path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(other_worker, fcntl.LOCK_EX)
    try:
        assert daily_run_if_due(now=at(1, 12), data_dir=tmp_path) is False
    finally:
        os.close(other_worker)
    assert runs == []
    assert daily_run_if_due(now=at(1, 12), data_dir=tmp_path) is True


def test_a_run_cut_off_is_not_recorded_and_runs_again(monkeypatch, tmp_path: Path) -> None:
    def killed() -> None:
        raise SystemExit("worker restarted")

    monkeypatch.setattr(scheduler, "daily_maintenance_run", killed)
    with pytest.raises(SystemExit):
        daily_run_if_due(now=at(1, 12), data_dir=tmp_path)
    assert not (tmp_path / LAST_RUN_FILE).exists()
    monkeypatch.setattr(scheduler, "daily_maintenance_run", lambda: scheduler.DailyResult())
    assert daily_run_if_due(now=at(1, 12, 10), data_dir=tmp_path) is True  # lock was released


# --- What the run does -------------------------------------------------------------------------


@pytest.fixture
def steps(monkeypatch) -> list[str]:
    done: list[str] = []
    monkeypatch.setattr(
        scheduler, "tips_purge_expired", lambda: done.append("purge") or PurgeSummary()
    )
    monkeypatch.setattr(scheduler, "uploads_sweep", lambda: done.append("sweep") or SweepSummary())
    monkeypatch.setattr(scheduler, "_expired_sessions_clear", lambda: done.append("sessions"))
    monkeypatch.setattr(scheduler, "daily_counts_log", lambda **_kwargs: None)  # test_arrivals.py
    return done


def test_one_failing_step_does_not_stop_the_others(steps, monkeypatch, caplog) -> None:
    def broken() -> None:
        raise RuntimeError("database at /secret/place is gone")

    monkeypatch.setattr(scheduler, "tips_purge_expired", broken)
    result = daily_maintenance_run()
    assert steps == ["sweep", "sessions"] and result.failed == ["purge"]
    assert "the purge failed (RuntimeError)" in caplog.text
    assert "/secret/place" not in caplog.text


def test_the_reminder_is_sent_only_when_it_is_on(steps, monkeypatch, settings) -> None:
    sent: list[int] = []
    monkeypatch.setattr(
        "tipline.retention.notify.daily_notification_send", lambda: sent.append(1) or 3
    )
    settings.TIPLINE_NOTIFY_EMAIL = False
    assert daily_maintenance_run().notified is None and sent == []
    settings.TIPLINE_NOTIFY_EMAIL = True
    assert daily_maintenance_run().notified == 3 and sent == [1]
    assert steps == ["purge", "sweep", "sessions"] * 2


@pytest.mark.django_db
def test_the_real_run_on_an_empty_tip_line_does_nothing_and_fails_nothing(settings) -> None:
    settings.TIPLINE_NOTIFY_EMAIL = False
    result = daily_maintenance_run()
    assert result.failed == []
    assert result.purge == PurgeSummary() and result.sweep == SweepSummary()


# --- Celery beat, and the embedded default's thread ----------------------------------------------


def test_beat_sends_the_task_daily_at_the_hour_utc(settings) -> None:
    entry = app.conf.beat_schedule["daily-maintenance"]
    assert entry["task"] == DAILY_MAINTENANCE_TASK
    assert entry["schedule"].hour == {settings.TIPLINE_DAILY_RUN_HOUR}
    assert entry["schedule"].minute == {0}
    assert app.conf.timezone == "UTC"
    app.loader.import_default_modules()
    assert DAILY_MAINTENANCE_TASK in app.tasks


def test_the_task_runs_the_maintenance(runs, monkeypatch) -> None:
    from tipline.retention import tasks

    monkeypatch.setattr(tasks, "daily_maintenance_run", lambda: runs.append(1))
    tasks.daily_maintenance.apply()
    assert runs == [1]
    assert tasks.daily_maintenance.acks_late is True


def test_no_thread_under_tests_and_with_a_broker_one_for_the_file_times_only(
    monkeypatch, settings
) -> None:
    settings.CELERY_BROKER_URL = ""
    assert daily_runner_start() is None  # under pytest
    monkeypatch.setattr(scheduler, "_under_tests", lambda: False)
    monkeypatch.setattr(scheduler, "FIRST_CHECK_AFTER_SECONDS", 0)
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    batches: list[bool] = []
    stop = threading.Event()
    monkeypatch.setattr(
        scheduler,
        "arrivals_batch_check",
        lambda *, local_only: batches.append(local_only) or stop.set(),
    )
    monkeypatch.setattr(scheduler, "daily_run_if_due", lambda: batches.append("daily"))
    thread = daily_runner_start(stop)  # beat sends the batch and the daily run
    assert thread is not None
    thread.join(timeout=10)
    assert batches == [True]  # this host's file times only, no daily run
    settings.CELERY_BROKER_URL = ""
    settings.TIPLINE_DAILY_RUN_HOUR = 24
    assert daily_runner_start() is None  # an hour that never comes: refused, logged


def test_the_thread_checks_until_stopped(monkeypatch, settings) -> None:
    settings.CELERY_BROKER_URL = ""
    monkeypatch.setattr(scheduler, "_under_tests", lambda: False)
    monkeypatch.setattr(scheduler, "FIRST_CHECK_AFTER_SECONDS", 0)
    monkeypatch.setattr(scheduler, "CHECK_EVERY_SECONDS", 0)
    checks: list[int] = []
    stop = threading.Event()

    def check() -> None:
        checks.append(1)
        if len(checks) == 2:
            raise OSError("data dir not writable")  # logged; the thread lives on
        if len(checks) == 3:
            stop.set()

    monkeypatch.setattr(scheduler, "daily_run_if_due", check)
    thread = daily_runner_start(stop)
    assert thread is not None and thread.daemon
    thread.join(timeout=10)
    assert not thread.is_alive() and len(checks) == 3


def test_each_web_worker_starts_the_thread_at_startup(monkeypatch) -> None:
    """The ASGI lifespan of every uvicorn worker process (tipline/server/asgi.py)."""
    import asyncio

    from tipline.server.asgi import Router

    started: list[int] = []
    monkeypatch.setattr(scheduler, "daily_runner_start", lambda: started.append(1))
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive() -> dict:
        return next(messages)

    async def send(message: dict) -> None:
        sent.append(message["type"])

    asyncio.run(Router()({"type": "lifespan"}, receive, send))
    assert started == [1]
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


@pytest.mark.django_db
def test_the_run_removes_expired_sessions_and_their_sealed_keys(settings) -> None:
    from datetime import timedelta

    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    settings.TIPLINE_NOTIFY_EMAIL = False
    for _ in range(2):
        store = SessionStore()
        store["tipline_sealed_private_key"] = "sealed"
        store.create()
    Session.objects.filter(pk=store.session_key).update(
        expire_date=timezone.now() - timedelta(minutes=1)
    )
    assert daily_maintenance_run().failed == []
    assert Session.objects.count() == 1
    assert not Session.objects.filter(pk=store.session_key).exists()
