"""Slow clients cost memory, not workers: the attacks that took the gunicorn set-up down.

With 16 gunicorn threads, 16 uploads at 1 KiB/s left the landing page
answering 4 probes in 10, and 32 clients that never finished their headers
took it down. Here every one of them is a connection in the event loop: the
landing page keeps answering, a client stuck in its headers is disconnected
after TIPLINE_HEADER_TIMEOUT_SECONDS, and an upload slower than the minimum
rate is cut off and leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest

from tests.conftest import all_files_under
from tests.server.clients import (
    closed_after,
    closing_boundary,
    connect,
    form_body_head,
    landing_form,
    post_head,
    probe,
    status_of,
)
from tipline.models import Attachment, Tip

pytestmark = pytest.mark.django_db(transaction=True)

FILE_SIZE = 200_000


def wait_until(condition, limit: float = 5.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def assert_nothing_kept(blob_storage: Path) -> None:
    assert wait_until(lambda: all_files_under(blob_storage) == []), all_files_under(blob_storage)
    assert Tip.objects.count() == 0
    assert Attachment.objects.count() == 0


async def trickle(writer: asyncio.StreamWriter, *, size: int, every: float, seconds: float) -> None:
    """Send ``size`` bytes of the file every ``every`` seconds for ``seconds``; stop quietly if cut."""
    deadline = time.monotonic() + seconds
    with contextlib.suppress(ConnectionError):
        while time.monotonic() < deadline:
            writer.write(b"\x00" * size)
            await writer.drain()
            await asyncio.sleep(every)


async def start_upload(served, form, *, file_size: int = FILE_SIZE):
    head = form_body_head(form)
    length = len(head) + file_size + len(closing_boundary())
    reader, writer = await connect(served.port)
    writer.write(post_head(served.url, "/es/send/", cookie=form.cookie, length=length) + head)
    await writer.drain()
    return reader, writer


def test_an_upload_below_the_minimum_rate_is_cut_off_and_leaves_nothing(
    start_server, open_tipline, settings, blob_storage: Path
) -> None:
    settings.TIPLINE_MIN_UPLOAD_WINDOW_SECONDS = 2
    settings.TIPLINE_MIN_UPLOAD_BYTES_PER_SECOND = 1000
    served = start_server()
    form = landing_form(served.url)

    async def scenario() -> tuple[bytes, float, bool]:
        reader, writer = await start_upload(served, form)
        sender = asyncio.create_task(trickle(writer, size=10, every=1.0, seconds=30))
        # The file's raw blob exists while the bytes come: the upload is being streamed.
        started_blob = await asyncio.to_thread(
            wait_until, lambda: bool(all_files_under(blob_storage)), 1.5
        )
        try:
            answer, after = await closed_after(reader, limit=10)
        finally:
            sender.cancel()
            writer.close()
        return answer, after, started_blob

    answer, after, started_blob = asyncio.run(scenario())
    assert started_blob, "the upload never reached the encrypting handler"
    assert answer == b"", "a client cut off for slowness gets no page"
    assert after < 6, f"cut off after {after:.1f} s with a 2 s window"
    assert_nothing_kept(blob_storage)


def test_an_upload_at_the_speed_of_a_slow_tor_circuit_is_not_cut(
    start_server, open_tipline, settings, blob_storage: Path
) -> None:
    """1 KiB/s, above a minimum rate of 512 B/s per 2 s: it arrives, however long it takes."""
    settings.TIPLINE_MIN_UPLOAD_WINDOW_SECONDS = 2
    settings.TIPLINE_MIN_UPLOAD_BYTES_PER_SECOND = 512
    served = start_server()
    form = landing_form(served.url)
    size = 4 * 1024

    async def scenario() -> bytes:
        reader, writer = await start_upload(served, form, file_size=size)
        await trickle(writer, size=256, every=0.25, seconds=size / 1024 - 0.1)
        writer.write(closing_boundary())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 20)
        writer.close()
        return head

    head = asyncio.run(scenario())
    assert status_of(head) == 200
    assert Attachment.objects.get().received_size == size


def test_a_client_stuck_in_its_headers_is_disconnected_while_the_landing_page_answers(
    start_server, open_tipline, settings
) -> None:
    settings.TIPLINE_HEADER_TIMEOUT_SECONDS = 2
    served = start_server()

    async def scenario() -> tuple[bytes, float, list[tuple[int, float]]]:
        reader, writer = await connect(served.port)

        async def never_done() -> None:
            # Never idle (a byte every half second), never finished.
            writer.write(f"GET /es/ HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\n".encode())
            with contextlib.suppress(ConnectionError):
                for number in range(100):
                    writer.write(f"X-Slow-{number}: 1\r\n".encode())
                    await writer.drain()
                    await asyncio.sleep(0.5)

        sender = asyncio.create_task(never_done())
        probes = [await probe(served.port), await probe(served.port)]
        answer, after = await closed_after(reader, limit=10)
        sender.cancel()
        writer.close()
        return answer, after, probes

    answer, after, probes = asyncio.run(scenario())
    assert [status for status, _ in probes] == [200, 200]
    assert all(seconds < 1 for _, seconds in probes), probes
    assert answer == b""
    assert 1 < after < 5, f"disconnected after {after:.1f} s, deadline 2 s"


def test_a_kept_alive_connection_has_the_same_deadline_for_its_next_request(
    start_server, open_tipline, settings
) -> None:
    settings.TIPLINE_HEADER_TIMEOUT_SECONDS = 2
    served = start_server()

    async def scenario() -> tuple[int, bytes, float]:
        reader, writer = await connect(served.port)
        writer.write(f"GET /es/ HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        writer.write(b"GET /es/ HTTP/1.1\r\n")  # the next request's headers start, and stop
        answer, after = await closed_after(reader, limit=10)
        writer.close()
        return status_of(head), answer, after

    status, answer, after = asyncio.run(scenario())
    assert status == 200
    assert answer == b""
    assert after < 5


@pytest.mark.slow
def test_fifty_slow_uploads_and_twenty_stuck_clients_leave_the_landing_page_answering(
    start_server, open_tipline, blob_storage: Path
) -> None:
    """A small, bounded version of the siege (bench/siege.py runs the large one)."""
    served = start_server()
    form = landing_form(served.url)
    seconds = 8.0

    async def stuck_client() -> asyncio.StreamWriter:
        _reader, writer = await connect(served.port)
        writer.write(f"GET /es/ HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\n".encode())
        await writer.drain()
        return writer

    async def scenario() -> tuple[list[tuple[int, float]], int]:
        uploads = [await start_upload(served, form, file_size=10**7) for _ in range(50)]
        stuck = [await stuck_client() for _ in range(20)]
        senders = [
            asyncio.create_task(trickle(writer, size=256, every=0.25, seconds=seconds + 2))
            for _reader, writer in uploads
        ]
        probes = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            probes.append(await probe(served.port))
            await asyncio.sleep(0.25)
        # A real (if slow) upload is never cut: all fifty are still being received.
        still_open = sum(not reader.at_eof() for reader, _writer in uploads)
        for task in senders:
            task.cancel()
        for _reader, writer in uploads:
            writer.close()
        for writer in stuck:
            writer.close()
        return probes, still_open

    probes, still_open = asyncio.run(scenario())
    assert len(probes) >= 20
    assert [status for status, _ in probes] == [200] * len(probes)
    slowest = max(elapsed for _, elapsed in probes)
    assert slowest < 1, f"the slowest probe took {slowest:.2f} s"
    assert still_open == 50
    # Every upload went away unfinished: nothing of them is kept.
    assert_nothing_kept(blob_storage)
