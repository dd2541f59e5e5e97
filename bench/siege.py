"""A siege of slow clients on loopback, and the landing page's latency through it.

    .venv/bin/python bench/siege.py [--uploads 1000] [--stuck 200] [--seconds 60]

Starts the server as `make run` does (``python -m config.server``: uvicorn,
two worker processes, the shipped defaults) on 127.0.0.1, a free port and a
throw-away data directory whose tip line is open. Then:

1. the landing page's latency on the idle server (30 probes, one at a time);
2. UPLOADS uploads of the source form, each trickling 1 KiB/s into a file
   part of a declared 64 MiB (so none ends), plus STUCK clients that never
   finish their request headers (a header line every ten seconds, so they are
   never idle) and connect again whenever the server cuts them off;
3. while they are all held, one probe of the landing page a second for
   SECONDS seconds, each on a fresh connection (10 s and it counts as lost);
4. the server's memory: resident set size summed over its processes, sampled
   twice a second, at its peak.

It prints answered/total and p50/p99 latency under siege next to the idle
figures, and the peak memory. Goals: every probe answered, p99 < 500 ms,
memory < 1 GiB. Everything goes to 127.0.0.1, every count is bounded, and the
whole run stops by itself (about SECONDS + 40 seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._server import (  # noqa: E402
    free_port,
    open_tipline,
    raise_open_files_limit,
    server_environment,
    server_memory_kib,
    start_server,
    stop_server,
)

HIDDEN_INPUT = re.compile(rb'<input type="hidden" name="([^"]+)" value="([^"]*)"')
SET_COOKIE = re.compile(rb"(?im)^set-cookie:\s*([^;\r\n]+)")
BOUNDARY = "----tiplinesiege"
DECLARED_FILE = 64 * 1024 * 1024
PROBE_TIMEOUT = 10.0
RAMP_SECONDS = 10.0


@dataclass
class Tally:
    uploads_open: int = 0
    uploads_cut: int = 0
    upload_failures: int = 0
    stuck_connections: int = 0
    stuck_cut: int = 0
    memory_peak_kib: int = 0
    latencies: list[float] = field(default_factory=list)
    lost: int = 0


async def fetch(port: int, path: str) -> tuple[bytes, float]:
    """GET ``path`` on a fresh connection; the whole answer, and how long it took."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode())
        await writer.drain()
        answer = await reader.read(-1)
    finally:
        writer.close()
    return answer, time.monotonic() - started


async def probe(port: int) -> float | None:
    try:
        answer, elapsed = await asyncio.wait_for(fetch(port, "/es/"), PROBE_TIMEOUT)
    except (TimeoutError, OSError):
        return None
    return elapsed if answer.startswith(b"HTTP/1.1 200") else None


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


async def upload_head(port: int) -> bytes:
    """The request head and the body up to the file's first byte, with a real form's tokens."""
    page, _ = await fetch(port, "/es/")
    fields = {name.decode(): value.decode() for name, value in HIDDEN_INPUT.findall(page)}
    cookie = "; ".join(match.decode() for match in SET_COOKIE.findall(page))
    fields.update(note="", links="")
    body = "".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    )
    body += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="video.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    )
    length = len(body.encode()) + DECLARED_FILE + len(f"\r\n--{BOUNDARY}--\r\n")
    head = (
        f"POST /es/send/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
        f"Origin: http://127.0.0.1:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\n\r\n"
    )
    return head.encode() + body.encode()


async def slow_upload(port: int, head: bytes, until: float, tally: Tally) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        tally.upload_failures += 1
        return
    tally.uploads_open += 1
    block = b"\x00" * 1024
    try:
        writer.write(head)
        await asyncio.sleep(random.random())
        while time.monotonic() < until:
            if reader.at_eof():
                tally.uploads_cut += 1
                return
            writer.write(block)  # 1 KiB a second
            await writer.drain()
            await asyncio.sleep(1.0)
    except OSError:
        tally.uploads_cut += 1
    finally:
        tally.uploads_open -= 1
        writer.close()


async def stuck_client(port: int, until: float, tally: Tally) -> None:
    """Headers that never end; when the server hangs up, dial again."""
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(1)
            continue
        tally.stuck_connections += 1
        try:
            writer.write(f"GET /es/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())
            number = 0
            while time.monotonic() < until:
                try:
                    if await asyncio.wait_for(reader.read(1024), 10) == b"":
                        tally.stuck_cut += 1
                        break
                except TimeoutError:
                    number += 1
                    writer.write(f"X-Still-Here-{number}: 1\r\n".encode())
        except OSError:
            tally.stuck_cut += 1
        finally:
            writer.close()


async def watch_memory(supervisor: int, tally: Tally, until: float) -> None:
    while time.monotonic() < until:
        tally.memory_peak_kib = max(tally.memory_peak_kib, server_memory_kib(supervisor))
        await asyncio.sleep(0.5)


async def siege(port: int, supervisor: int, args: argparse.Namespace) -> tuple[list[float], Tally]:
    idle = []
    for _ in range(30):
        elapsed = await probe(port)
        assert elapsed is not None, "the idle server did not answer"
        idle.append(elapsed)
    tally = Tally()
    head = await upload_head(port)
    # The clients stop by themselves at the latest here; they are cancelled earlier.
    end = time.monotonic() + RAMP_SECONDS + args.seconds + 60
    memory = asyncio.create_task(watch_memory(supervisor, tally, end))
    clients: list[asyncio.Task] = []
    # Arrive over RAMP_SECONDS, as a crowd would, rather than in one instant.
    total = args.uploads + args.stuck
    kinds = ["upload"] * args.uploads + ["stuck"] * args.stuck
    random.shuffle(kinds)
    for kind in kinds:
        if kind == "upload":
            clients.append(asyncio.create_task(slow_upload(port, head, end, tally)))
        else:
            clients.append(asyncio.create_task(stuck_client(port, end, tally)))
        await asyncio.sleep(RAMP_SECONDS / total)
    for _ in range(args.seconds):
        started = time.monotonic()
        elapsed = await probe(port)
        if elapsed is None:
            tally.lost += 1
        else:
            tally.latencies.append(elapsed)
        await asyncio.sleep(max(1.0 - (time.monotonic() - started), 0))
    held = tally.uploads_open
    for task in clients:
        task.cancel()
    await asyncio.gather(*clients, return_exceptions=True)
    memory.cancel()
    tally.uploads_open = held
    return idle, tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=1000)
    parser.add_argument("--stuck", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    if not (0 < args.uploads <= 5000 and 0 <= args.stuck <= 5000 and 0 < args.seconds <= 600):
        parser.error("at most 5000 uploads, 5000 stuck clients and 600 seconds")
    limit = raise_open_files_limit()
    with tempfile.TemporaryDirectory(prefix="tipline-siege-") as tmp:
        folder = Path(tmp)
        port = free_port()
        env = server_environment(folder / "data", port)
        open_tipline(env, folder)
        server = start_server(env, port)
        try:
            time.sleep(1)  # both workers up
            idle_memory = server_memory_kib(server.pid)
            idle, tally = asyncio.run(
                asyncio.wait_for(siege(port, server.pid, args), args.seconds + 120)
            )
            time.sleep(3)  # the server deletes what the cut-off uploads had sent
            left = [path for path in (folder / "data" / "blobs").rglob("*") if path.is_file()]
        finally:
            stop_server(server)
    answered = len(tally.latencies)
    total = answered + tally.lost
    print(f"client open-files limit     {limit}")
    print(
        f"held at the end             {tally.uploads_open} uploads at 1 KiB/s, {args.stuck} clients in their headers"
    )
    print(
        f"uploads cut off             {tally.uploads_cut} (failed to connect: {tally.upload_failures})"
    )
    print(
        f"header clients              {tally.stuck_connections} connections, {tally.stuck_cut} cut off by the server"
    )
    print(
        f"idle landing page           p50 {percentile(idle, 0.5) * 1000:7.1f} ms   p99 {percentile(idle, 0.99) * 1000:7.1f} ms   (30 probes)"
    )
    if tally.latencies:
        p50, p99 = percentile(tally.latencies, 0.5), percentile(tally.latencies, 0.99)
        print(
            f"under siege                 p50 {p50 * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms   (goal p99 < 500 ms)"
        )
    print(f"probes answered             {answered}/{total}   (goal: all)")
    print(f"server memory, idle         {idle_memory / 1024:7.1f} MiB (RSS, all processes)")
    print(f"server memory, peak         {tally.memory_peak_kib / 1024:7.1f} MiB   (goal < 1024)")
    print(f"blobs left after the clients went away: {len(left)}")


if __name__ == "__main__":
    main()
