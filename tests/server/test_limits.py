"""The minimum body rate and the sides, without a server."""

from __future__ import annotations

import asyncio
import time

from tipline.server.limits import RateGuard, Side, side_of


def fake_client(schedule: list[tuple[float, bytes, bool]]):
    """receive() that yields each (delay, body, more_body) after its delay, then waits forever."""
    pending = list(schedule)

    async def receive() -> dict:
        if not pending:
            await asyncio.sleep(3600)
        delay, body, more = pending.pop(0)
        await asyncio.sleep(delay)
        return {"type": "http.request", "body": body, "more_body": more}

    return receive


async def drain(guard: RateGuard) -> tuple[list[str], float]:
    started = time.monotonic()
    kinds = []
    while True:
        message = await guard()
        kinds.append(message["type"])
        if message["type"] == "http.disconnect" or not message.get("more_body"):
            return kinds, time.monotonic() - started


def test_a_body_below_the_rate_for_a_whole_window_reads_as_a_disconnect() -> None:
    # 100 bytes every 0.1 s is 1000 B/s; the minimum is 2000 B/s over 0.5 s.
    guard = RateGuard(
        fake_client([(0.1, b"x" * 100, True)] * 20), bytes_per_second=2000, window=0.5
    )
    kinds, after = asyncio.run(drain(guard))
    assert kinds[-1] == "http.disconnect" and guard.tripped
    assert 0.45 < after < 1.0


def test_a_body_at_the_rate_is_never_cut() -> None:
    schedule = [(0.05, b"x" * 200, True)] * 30 + [(0.05, b"end", False)]
    guard = RateGuard(fake_client(schedule), bytes_per_second=2000, window=0.3)
    kinds, _after = asyncio.run(drain(guard))
    assert kinds == ["http.request"] * 31 and not guard.tripped


def test_time_the_server_spends_does_not_count_against_the_client() -> None:
    async def scenario() -> bool:
        guard = RateGuard(
            fake_client([(0.01, b"x" * 10, True)] * 5 + [(0.01, b"", False)]),
            bytes_per_second=1000,
            window=0.2,
        )
        while (await guard()).get("more_body"):
            await asyncio.sleep(0.1)  # e.g. finishing a blob: 0.5 s in all, over two windows
        return guard.tripped

    assert asyncio.run(scenario()) is False


def test_once_the_body_is_complete_receive_only_waits_for_the_disconnect() -> None:
    async def scenario() -> dict:
        calls = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive() -> dict:
            if calls:
                return calls.pop()
            await asyncio.sleep(0.3)
            return {"type": "http.disconnect"}

        guard = RateGuard(receive, bytes_per_second=10**6, window=0.1)
        await guard()
        return await guard()  # 0.3 s later, past the window: not cut, the real disconnect

    assert asyncio.run(scenario()) == {"type": "http.disconnect"}


def test_staff_and_source_sides() -> None:
    assert side_of("/staff/") is Side.STAFF
    assert side_of("/staff") is Side.STAFF
    assert side_of("/staff/tips/ABC/") is Side.STAFF
    assert side_of("/es/") is Side.SOURCE
    assert side_of("/staffing/") is Side.SOURCE
    assert side_of("/static/tipline.css") is Side.SOURCE
