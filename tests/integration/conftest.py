"""Real services for the integration suite: SeaweedFS (S3) and a Celery worker on Redis.

PostgreSQL and Redis are the machine's own (``.ci/run`` starts them when they
are down); SeaweedFS and the worker are started here, as subprocesses, and
stopped at the end of the session.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from django.conf import settings
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]


def _wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def s3_client():
    options = settings.STORAGES["default"]["OPTIONS"]
    return boto3.client(
        "s3",
        endpoint_url=options["endpoint_url"],
        region_name=options["region_name"],
        aws_access_key_id=options["access_key"],
        aws_secret_access_key=options["secret_key"],
    )


def _weed_binary() -> str:
    candidate = Path(sys.executable).parent / "weed"
    return str(candidate) if candidate.exists() else (shutil.which("weed") or "weed")


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory) -> Iterator[None]:
    if settings.TIPLINE_STORAGE != "s3":
        pytest.fail("the integration suite runs with tests.integration_settings (S3 storage)")
    folder = tmp_path_factory.mktemp("seaweedfs")
    port = int(settings.STORAGES["default"]["OPTIONS"]["endpoint_url"].rsplit(":", 1)[1])
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            pytest.fail(f"port {port} is taken: a SeaweedFS from an earlier run may still be up")
    process = subprocess.Popen(
        [
            _weed_binary(),
            "server",
            f"-dir={folder}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-s3",
            f"-s3.port={port}",
            "-master.port=19333",
            "-volume.port=18080",
            "-filer.port=18888",
            "-volume.max=0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, timeout=60)
        _create_bucket_when_ready(settings.STORAGES["default"]["OPTIONS"]["bucket_name"])
        yield
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    # SeaweedFS can take its time flushing on SIGTERM; its data is throw-away.
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _create_bucket_when_ready(bucket: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            s3_client().create_bucket(Bucket=bucket)
            return
        except Exception:  # the filer may still be starting
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def all_objects() -> list[tuple[str, bytes]]:
    client = s3_client()
    bucket = settings.STORAGES["default"]["OPTIONS"]["bucket_name"]
    listing = client.list_objects_v2(Bucket=bucket)
    return [
        (item["Key"], client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        for item in listing.get("Contents", [])
    ]


def empty_bucket() -> None:
    client = s3_client()
    bucket = settings.STORAGES["default"]["OPTIONS"]["bucket_name"]
    for key, _content in all_objects():
        client.delete_object(Bucket=bucket, Key=key)


def worker_environment(db_name: str) -> dict[str, str]:
    env = dict(os.environ)
    database = settings.DATABASES["default"]
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.integration_settings",
            "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{db_name}",
            "DATABASE_CONN_MAX_AGE": "0",
            "TIPLINE_PIPELINE_KEY_FILE": str(settings.TIPLINE_PIPELINE_KEY_FILE),
        }
    )
    return env


class Worker:
    """A real ``celery worker`` process on the Redis broker."""

    def __init__(self, db_name: str, log_path: Path) -> None:
        self.db_name, self.log_path = db_name, log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=worker_environment(self.db_name),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_ready()

    def _wait_until_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b"ready." in self.log_path.read_bytes():
                return
            if self.process.poll() is not None:
                raise RuntimeError("the Celery worker exited:\n" + self.log_path.read_text())
            time.sleep(0.2)
        raise RuntimeError("the Celery worker did not become ready")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Worker]:
    from celery import current_app

    current_app.connection_for_write().default_channel.client.flushdb()  # no stale tasks
    worker = Worker(
        settings.DATABASES["default"]["NAME"], tmp_path_factory.mktemp("worker") / "worker.log"
    )
    worker.start()
    yield worker
    worker.stop()


def wait_until(predicate, *, timeout: float = 120, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def real_services(seaweedfs, celery_worker_process, recovery_key) -> Iterator[Worker]:
    """PostgreSQL, the S3 bucket (emptied) and a running worker, with the pipeline key registered."""
    from django.db import connection

    from tipline.audit import COMMAND_LINE_ACTOR
    from tipline.keyring import pipeline_key_ensure

    assert connection.vendor == "postgresql"
    pipeline_key_ensure(actor=COMMAND_LINE_ACTOR)
    empty_bucket()
    yield celery_worker_process
    empty_bucket()


# --- Headless Chromium, JavaScript off (Tor Browser "Safest") ------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def wait_for_text(driver: webdriver.Chrome, text: str) -> None:
    """A click starts a navigation without waiting for it: wait for the new page."""
    WebDriverWait(driver, 60).until(lambda d: text in d.page_source)


def headless_chromium(tmp_path: Path, *, javascript: bool) -> webdriver.Chrome:
    """A headless Chromium sized like a phone, with a profile of its own."""
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: .ci/run installs the Debian packages")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=390,844",  # a phone
    ):
        options.add_argument(flag)
    if javascript:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    else:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(120)
    driver.set_script_timeout(30)
    return driver


@pytest.fixture
def browser_without_javascript(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    driver = headless_chromium(tmp_path, javascript=False)
    yield driver
    driver.quit()


@pytest.fixture
def browser_with_javascript(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    driver = headless_chromium(tmp_path, javascript=True)
    yield driver
    driver.quit()


# --- Screenshots of the accessibility gate (tests/integration/a11y.py) ---------------------------


def pytest_terminal_summary(terminalreporter) -> None:
    """Where this run's screenshots are, with an index.html showing them all at once."""
    from tests.integration.a11y import screenshot_folder_made, screenshots_index_write

    folder = screenshot_folder_made()
    if folder is not None:
        index = screenshots_index_write(folder)
        count = len(list(folder.glob("*.png")))
        terminalreporter.write_sep("-", "screenshots")
        terminalreporter.write_line(f"{count} screenshots in {folder}")
        terminalreporter.write_line(f"all of them at once: {index.as_uri()}")
