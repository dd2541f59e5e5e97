"""The router: Django's capped bodies, a capacity per side, the lazily loaded resumable uploads."""

from __future__ import annotations

import asyncio
import sys
import threading
import types

import pytest

from tests.server.clients import closed_after, connect, probe, status_of
from tipline.server.asgi import LazyApp

pytestmark = pytest.mark.django_db(transaction=True)


def raw(served, data: bytes, *, limit: float = 10) -> bytes:
    async def run() -> bytes:
        reader, writer = await connect(served.port)
        writer.write(data)
        await writer.drain()
        answer, _ = await closed_after(reader, limit)
        writer.close()
        return answer

    return asyncio.run(run())


def head_of(answer: bytes) -> str:
    return answer.partition(b"\r\n\r\n")[0].decode("latin1").lower()


def test_a_django_post_over_the_cap_is_refused_before_its_body_is_read(
    start_server, open_tipline, settings
) -> None:
    settings.TIPLINE_MAX_REQUEST_BODY_KB = 64
    served = start_server()
    request = (
        f"POST /staff/login/ HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 10485760\r\n\r\n"
    ).encode()
    answer = raw(served, request)  # the headers only: the answer does not wait for the body
    assert status_of(answer) == 413
    head = head_of(answer)
    assert "connection: close" in head
    # Refused by the server, answered through Django's middleware: the policy headers are there.
    csp = [line for line in head.splitlines() if line.startswith("content-security-policy:")]
    assert csp and "default-src 'none'" in csp[0]
    assert "cache-control: no-store" in head


def test_a_chunked_django_body_is_cut_with_413_once_it_passes_the_cap(
    start_server, open_tipline, settings
) -> None:
    settings.TIPLINE_MAX_REQUEST_BODY_KB = 64
    served = start_server()
    chunk = b"a" * 8192
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(9))  # 72 KiB, no end
    request = (
        f"POST /staff/login/ HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    assert status_of(raw(served, request + body)) == 413


def test_a_small_django_post_is_answered_by_the_view(start_server, open_tipline) -> None:
    served = start_server()
    body = b"username=ana&password=x&otp_token=123456"
    request = (
        f"POST /staff/login/ HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    assert status_of(raw(served, request + body)) == 403  # no CSRF token: the view's own answer


def test_staff_pages_answer_while_every_source_thread_is_busy(
    start_server, open_tipline, settings, monkeypatch
) -> None:
    settings.TIPLINE_SOURCE_CONCURRENCY = 1
    release = threading.Event()
    entered = threading.Event()
    real_is_open = sys.modules["tipline.intake.views"].tipline_is_open

    def blocking_is_open() -> bool:
        entered.set()
        release.wait(20)
        return real_is_open()

    monkeypatch.setattr("tipline.intake.views.tipline_is_open", blocking_is_open)
    served = start_server()

    async def scenario():
        source = [asyncio.create_task(probe(served.port, "/es/", timeout=30)) for _ in range(3)]
        assert await asyncio.to_thread(entered.wait, 10)
        staff = [await probe(served.port, "/staff/login/") for _ in range(3)]
        waiting = [task.done() for task in source]
        release.set()
        return staff, waiting, [await task for task in source]

    staff, waiting, source = asyncio.run(scenario())
    assert [status for status, _ in staff] == [200, 200, 200]
    assert all(seconds < 2 for _, seconds in staff), staff
    assert waiting == [False, False, False]  # the source side's one thread was taken
    assert [status for status, _ in source] == [200, 200, 200]


def test_static_files_and_pages_keep_their_policy_headers(start_server, open_tipline) -> None:
    served = start_server()
    for path in ("/es/", "/static/tipline.css", "/staff/login/", "/nowhere/"):
        answer = raw(
            served, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        head = head_of(answer)
        assert "content-security-policy:" in head, path
        assert "cache-control: no-store" in head, path
        assert "server:" not in head, path  # no server banner


def test_the_resumable_uploads_app_is_loaded_on_first_use(monkeypatch) -> None:
    module = types.ModuleType("tests.server.fake_resumable")
    calls: list[str] = []

    async def application(scope, receive, send) -> None:
        calls.append(scope["path"])

    module.application = application  # type: ignore[attr-defined]
    lazy = LazyApp("tests.server.fake_resumable:application")
    assert "tests.server.fake_resumable" not in sys.modules
    monkeypatch.setitem(sys.modules, "tests.server.fake_resumable", module)
    assert lazy.load() is application
    assert LazyApp("tests.server.no_such_module:application").load() is None


def test_paths_of_a_missing_resumable_app_fall_through_to_django(
    start_server, open_tipline, monkeypatch
) -> None:
    monkeypatch.setattr("tipline.server.asgi.RESUMABLE_APP", "tests.server.no_such_module:app")
    served = start_server()
    answer = raw(
        served,
        b"PATCH /es/uploads/abc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    assert status_of(answer) in (404, 405)
    assert "content-security-policy:" in head_of(answer)
