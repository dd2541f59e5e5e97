"""A 50 MB file over a connection that breaks twice, in real headless Chromium with JavaScript on.

The real server (``python -m config.server``: uvicorn, the router, the Django
bridge, two worker processes) runs in a subprocess on 127.0.0.1 against the
integration services (PostgreSQL, the Celery worker, SeaweedFS S3). Between
the browser and the server sits a TCP proxy, also on 127.0.0.1, that resets
the connection carrying the upload twice, in the middle of the file. The
page's script (static/upload.js) must notice, ask the server how much arrived,
and continue; the form is then posted with the upload's token, and the file
the offline export gives back must be byte for byte the one the source chose.

The same server takes the plain form with JavaScript off, as before.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import RECOVERY_PASSPHRASE
from tests.integration.conftest import (
    ROOT,
    wait_for_text,
    wait_until,
    worker_environment,
)
from tipline.models import Attachment, PendingUpload, Tip

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MB = 1000 * 1000
FILE_BYTES = 50 * 1024 * 1024
# Client-to-server bytes after which the proxy resets the connection carrying them.
DROP_AFTER = (15 * MB, 35 * MB)
METHODS = (b"GET ", b"HEAD ", b"POST ", b"PATCH ", b"OPTIONS ")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as attempt:
            if attempt.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process.poll() is not None:
            raise RuntimeError("the server exited:\n" + log.read_text(errors="replace"))
        time.sleep(0.1)
    raise RuntimeError("the server did not start:\n" + log.read_text(errors="replace"))


@dataclass
class Served:
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def real_server(real_services, tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path)


@pytest.fixture
def real_server_with_cache(real_services, tmp_path: Path) -> Iterator[Served]:
    """The same, with a real cache (Redis) for the pages that keep a visit in it."""
    yield from serve(tmp_path, TIPLINE_IT_CACHE_URL="redis://127.0.0.1:6379/14")


def serve(tmp_path: Path, **extra_env: str) -> Iterator[Served]:
    """``python -m config.server`` on this test's database, stopped (SIGTERM, then SIGKILL) at the end."""
    port = free_port()
    env = worker_environment(settings.DATABASES["default"]["NAME"])
    env.update(PORT=str(port), HOST="127.0.0.1", WEB_WORKERS="2", **extra_env)
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "config.server"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(port, process, log)
        yield Served(port, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


class DroppingProxy:
    """A TCP proxy on 127.0.0.1 that resets the connection crossing each byte count in ``drops``.

    Counts what clients send to the server, over all connections, and keeps the
    start of the request each reset connection was carrying. Bounded: every
    socket has a timeout, every thread is a daemon, leaving the ``with`` ends all.
    """

    def __init__(self, target_port: int, drops: tuple[int, ...]) -> None:
        self.target_port = target_port
        self.pending_drops = list(drops)
        self.forwarded = 0
        self.dropped: list[bytes] = []  # the first bytes of each connection reset
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.5)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> DroppingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()
        with self._lock:
            for each in self._sockets:
                self._reset(each)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            except OSError:
                self._reset(client)
                continue
            for each in (client, server):
                each.settimeout(300)
            with self._lock:
                self._sockets += [client, server]
            request = bytearray()
            threading.Thread(target=self._up, args=(client, server, request), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client), daemon=True).start()

    def _up(self, client: socket.socket, server: socket.socket, request: bytearray) -> None:
        try:
            while not self._stop.is_set():
                data = client.recv(65536)
                if not data:
                    server.shutdown(socket.SHUT_WR)
                    return
                if data.startswith(METHODS):  # a new request on this (kept-alive) connection
                    request[:] = data[:16]
                with self._lock:
                    self.forwarded += len(data)
                    drop = bool(self.pending_drops) and self.forwarded >= self.pending_drops[0]
                    if drop:
                        self.pending_drops.pop(0)
                        self.dropped.append(bytes(request))
                if drop:
                    # A broken circuit: both sides see a reset, mid-body.
                    self._reset(client)
                    self._reset(server)
                    return
                server.sendall(data)
        except OSError:
            self._reset(client)
            self._reset(server)

    def _down(self, server: socket.socket, client: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                data = server.recv(65536)
                if not data:
                    client.shutdown(socket.SHUT_WR)
                    return
                client.sendall(data)
        except OSError:
            self._reset(client)
            self._reset(server)

    @staticmethod
    def _reset(each: socket.socket) -> None:
        # shutdown() first: on Linux a close() alone neither wakes the other
        # thread blocked in recv() on this socket nor ends the connection.
        for step in (
            lambda: each.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)),
            lambda: each.shutdown(socket.SHUT_RDWR),
            each.close,
        ):
            try:
                step()
            except OSError:
                pass


def exported_file(tip: Tip, name: str, recovery_key, tmp_path: Path, monkeypatch) -> bytes:
    out = tmp_path / "export"
    monkeypatch.setenv("TIPLINE_RECOVERY_PASSPHRASE", RECOVERY_PASSPHRASE)
    call_command(
        "export_tips",
        "--recovery-key",
        str(recovery_key.path),
        "--output",
        str(out),
        "--tip",
        tip.reference,
    )
    return (out / tip.reference / "files" / name).read_bytes()


def browser_storage(driver: webdriver.Chrome) -> dict:
    """What this origin keeps in the browser beyond the page: it must be nothing."""
    return driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const listing = indexedDB.databases ? indexedDB.databases() : Promise.resolve([]);
        listing.then((databases) => done({
          local: localStorage.length,
          session: sessionStorage.length,
          cookies: document.cookie,
          databases: databases.length,
        }));
        """
    )


def status_of(driver: webdriver.Chrome) -> str:
    """The script's status line, or "" once another page is shown."""
    try:
        found = driver.find_elements(By.CSS_SELECTOR, ".upload-status")
        return found[0].text if found else ""
    except StaleElementReferenceException:  # the confirmation replaced the page meanwhile
        return ""


def diagnosis(driver: webdriver.Chrome, served: Served, proxy: DroppingProxy) -> str:
    """What went wrong, for the failure message: the page's status, its console, the server's log."""
    try:
        found = driver.find_elements(By.ID, "upload-progress")
        panel = found[0].text if found else driver.page_source[-2000:]
    except StaleElementReferenceException:
        panel = driver.page_source[-2000:]
    console = "\n".join(str(entry) for entry in driver.get_log("browser"))
    log = served.log.read_text(errors="replace")[-4000:]
    return (
        f"page:\n{panel}\nproxy: {proxy.forwarded} bytes, dropped {proxy.dropped}\n"
        f"console:\n{console}\nserver:\n{log}"
    )


class Watch:
    """Polled while the upload runs: done or failed yet? And what did the page show meanwhile."""

    def __init__(self) -> None:
        self.statuses: set[str] = set()
        self.retries = 0

    def __call__(self, driver: webdriver.Chrome) -> bool:
        if "Thank you" in driver.page_source:
            return True
        status = status_of(driver)
        self.statuses.add(status)
        try:
            panel = driver.find_elements(By.ID, "upload-progress")
            count = panel[0].get_attribute("data-retries") if panel else None
        except StaleElementReferenceException:
            count = None
        self.retries = max(self.retries, int(count or 0))
        return "too many times" in status or "was refused" in status


def test_a_large_file_survives_two_broken_connections(
    real_server: Served,
    real_services,
    recovery_key,
    browser_with_javascript,
    tmp_path: Path,
    monkeypatch,
) -> None:
    driver = browser_with_javascript
    video = tmp_path / "video-largo.mp4"
    content = secrets.token_bytes(FILE_BYTES)
    video.write_bytes(content)

    with DroppingProxy(real_server.port, DROP_AFTER) as proxy:
        driver.get(proxy.url + "/en/")
        driver.find_element(By.NAME, "note").send_keys("A long video, sent over a bad line")
        driver.find_element(By.NAME, "files").send_keys(str(video))
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        # The script shows its progress while the file goes ahead in pieces.
        stale = [StaleElementReferenceException]
        WebDriverWait(driver, 30, ignored_exceptions=stale).until(
            lambda d: (
                "Thank you" in d.page_source
                or not d.find_element(By.ID, "upload-progress").get_attribute("hidden")
            )
        )
        watch = Watch()
        try:
            WebDriverWait(driver, 300, poll_frequency=0.1, ignored_exceptions=stale).until(watch)
        except TimeoutException:
            pass
        assert "Thank you" in driver.page_source, diagnosis(driver, real_server, proxy)
        storage = browser_storage(driver)
        assert proxy.dropped and len(proxy.dropped) == 2, proxy.dropped
        assert all(first.startswith(b"PATCH ") for first in proxy.dropped), proxy.dropped
        assert proxy.forwarded > FILE_BYTES
        # The source saw it: the script counted its attempts and said it was retrying.
        # (Chromium may itself send a cut request again on a new connection; the
        # server then answers 409 and the script retries: at least the first cut,
        # 15 MB into a 16 MiB piece, always reaches the script.)
        assert watch.retries >= 1, (watch.retries, watch.statuses)
        assert any(s.startswith("Connection lost, retrying in") for s in watch.statuses), (
            watch.statuses
        )

    assert storage == {"local": 0, "session": 0, "cookies": "", "databases": 0}
    assert [c for c in driver.get_cookies() if "expiry" in c] == []
    tip = Tip.objects.get()
    assert tip.file_count == 1
    assert not PendingUpload.objects.exists()
    wait_until(
        lambda: Attachment.objects.get(tip=tip).state != Attachment.State.RECEIVED,
        what="the worker to process the file",
        timeout=300,
    )
    attachment = Attachment.objects.get(tip=tip)
    assert attachment.received_size == FILE_BYTES
    exported = exported_file(tip, video.name, recovery_key, tmp_path, monkeypatch)
    assert len(exported) == len(content) and exported == content


def test_the_plain_form_still_works_with_javascript_off(
    real_server: Served, real_services, browser_without_javascript, tmp_path: Path
) -> None:
    driver = browser_without_javascript
    document = tmp_path / "informe.txt"
    document.write_bytes(b"contenido sin JavaScript\n")

    driver.get(real_server.url + "/es/")
    driver.find_element(By.NAME, "note").send_keys("Sin JavaScript, por el formulario de siempre")
    driver.find_element(By.NAME, "files").send_keys(str(document))
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for_text(driver, "Gracias")

    tip = Tip.objects.get()
    assert tip.file_count == 1
    assert not PendingUpload.objects.exists()  # nothing went ahead: the body carried the file
    assert "upload-progress" in driver.page_source or "Gracias" in driver.page_source
    wait_until(
        lambda: Attachment.objects.get(tip=tip).state == Attachment.State.DONE,
        what="the worker to clean the file",
    )


def test_a_server_without_resumable_uploads_gets_the_files_in_the_form(
    live_server, real_services, browser_with_javascript, tmp_path: Path
) -> None:
    """Django alone (no router, so no /<lang>/uploads/): the script steps aside."""
    driver = browser_with_javascript
    document = tmp_path / "informe.txt"
    document.write_bytes(b"enviado en el cuerpo del formulario\n")

    driver.get(live_server.url + "/en/")
    driver.find_element(By.NAME, "note").send_keys("JavaScript on, no resumable uploads")
    driver.find_element(By.NAME, "files").send_keys(str(document))
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for_text(driver, "Thank you")

    tip = Tip.objects.get()
    assert tip.file_count == 1
    assert not PendingUpload.objects.exists()


def test_a_source_coming_back_sends_a_later_file_that_survives_a_broken_connection(
    real_server_with_cache: Served,
    real_services,
    recovery_key,
    browser_with_javascript,
    tmp_path: Path,
    monkeypatch,
) -> None:
    """The conversation page's files go up in pieces too, under the conversation key."""
    driver = browser_with_javascript
    later = tmp_path / "segundo-video.mp4"
    content = secrets.token_bytes(8 * MB)
    later.write_bytes(content)

    driver.get(real_server_with_cache.url + "/en/")
    driver.find_element(By.NAME, "note").send_keys("A first note")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for_text(driver, "Thank you")
    passphrase = driver.find_element(By.ID, "receipt-passphrase").text
    tip = Tip.objects.get()

    # The visit's cookie is the server's own: through the proxy, the same origin.
    with DroppingProxy(real_server_with_cache.port, (4 * MB,)) as proxy:
        driver.get(proxy.url + "/en/come-back/")
        driver.find_element(By.NAME, "passphrase").send_keys(passphrase.upper())
        driver.find_element(By.CSS_SELECTOR, "form[action$='/come-back/'] button").click()
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.NAME, "message"))
        driver.find_element(By.NAME, "message").send_keys("The video I promised")
        driver.find_element(By.NAME, "files").send_keys(str(later))
        driver.find_element(By.CSS_SELECTOR, "form[action$='/conversation/'] button").click()
        stale = [StaleElementReferenceException]
        WebDriverWait(driver, 300, poll_frequency=0.2, ignored_exceptions=stale).until(
            lambda d: "You sent 1 file with this message." in d.page_source
        )
        assert proxy.dropped and all(first.startswith(b"PATCH ") for first in proxy.dropped), (
            proxy.dropped
        )

    attachment = Attachment.objects.get(tip=tip)
    assert attachment.sent_later and attachment.received_size == len(content)
    assert not PendingUpload.objects.exists()
    assert browser_storage(driver)["local"] == 0
    wait_until(
        lambda: Attachment.objects.get(pk=attachment.pk).state != Attachment.State.RECEIVED,
        what="the worker to process the later file",
        timeout=300,
    )
    exported = exported_file(tip, later.name, recovery_key, tmp_path, monkeypatch)
    assert exported == content
