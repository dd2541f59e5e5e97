"""Check-backs per second, and the landing page's latency while they run, next to an idle server.

    .venv/bin/python bench/checkback.py [--clients 16] [--seconds 30]

Starts the server as `make run` does (``python -m config.server``: uvicorn,
two worker processes, the shipped defaults, so the check-backs' line of
tipline/conversation/checks.py as shipped) on 127.0.0.1, a free port and a
throw-away data directory whose tip line is open, and sends one tip through
the form to get a receipt passphrase. Then:

1. the landing page's latency on the idle server (30 probes, one at a time);
2. CLIENTS clients, each sending check-backs back to back for SECONDS seconds
   (one in four with the right passphrase, the rest wrong: both cost the same
   Argon2 work), each on a fresh connection;
3. meanwhile, one probe of the landing page every half second (10 s and it
   counts as lost).

It prints the check-backs completed per second (a right one answered 303, a
wrong one 400), those told "busy" at once (503: the line was full), and the
landing page's p50/p99 under load next to the idle figures. Everything goes
to 127.0.0.1, the counts and the time are bounded, and the run stops by
itself (about SECONDS + 30 seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import html
import re
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._server import (  # noqa: E402
    free_port,
    open_tipline,
    server_environment,
    start_server,
    stop_server,
)
from bench.siege import fetch, percentile, probe  # noqa: E402

HIDDEN_INPUT = re.compile(rb'<input type="hidden" name="([^"]+)" value="([^"]*)"')
SET_COOKIE = re.compile(rb"(?im)^set-cookie:\s*([^;\r\n]+)")
PASSPHRASE = re.compile(rb'id="receipt-passphrase">([^<]+)<')
STATUS = re.compile(rb"HTTP/1\.[01] (\d{3})")
WRONG = "wrong words that open no tip at all here"
REQUEST_TIMEOUT = 30.0


@dataclass
class Tally:
    answers: Counter = field(default_factory=Counter)  # status -> count
    latencies: list[float] = field(default_factory=list)
    lost: int = 0


async def post(port: int, path: str, fields: dict[str, str], cookie: str) -> bytes:
    body = urllib.parse.urlencode(fields).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
        f"Origin: http://127.0.0.1:{port}\r\nConnection: close\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode() + body)
        await writer.drain()
        return await reader.read(-1)
    finally:
        writer.close()


async def form_of(port: int, path: str) -> tuple[dict[str, str], str]:
    """A page's hidden fields and the cookies that go with them."""
    page, _ = await fetch(port, path)
    fields = {name.decode(): value.decode() for name, value in HIDDEN_INPUT.findall(page)}
    cookie = "; ".join(match.decode() for match in SET_COOKIE.findall(page))
    return fields, cookie


async def receipt(port: int) -> str:
    """Send a tip through the form (no file: urlencoded, as a browser may) and read the receipt."""
    fields, cookie = await form_of(port, "/en/")
    answer = await post(port, "/en/send/", {**fields, "note": "bench", "links": ""}, cookie)
    found = PASSPHRASE.search(answer)
    if found is None:
        raise RuntimeError(f"no receipt passphrase: {answer[:300]!r}")
    return html.unescape(found.group(1).decode())


async def checkbacks(port: int, passphrase: str, until: float, tally: Tally) -> None:
    fields, cookie = await form_of(port, "/en/come-back/")
    number = 0
    while time.monotonic() < until:
        typed = passphrase if number % 4 == 0 else WRONG
        number += 1
        try:
            answer = await asyncio.wait_for(
                post(port, "/en/come-back/", {**fields, "passphrase": typed}, cookie),
                REQUEST_TIMEOUT,
            )
        except (TimeoutError, OSError):
            tally.answers["lost"] += 1
            continue
        status = STATUS.match(answer)
        tally.answers[status.group(1).decode() if status else "garbled"] += 1


async def run(port: int, args: argparse.Namespace) -> tuple[list[float], Tally, float]:
    passphrase = await receipt(port)
    idle = []
    for _ in range(30):
        elapsed = await probe(port)
        assert elapsed is not None, "the idle server did not answer"
        idle.append(elapsed)
    tally = Tally()
    started = time.monotonic()
    until = started + args.seconds
    clients = [
        asyncio.create_task(checkbacks(port, passphrase, until, tally)) for _ in range(args.clients)
    ]
    while time.monotonic() < until:
        elapsed = await probe(port)
        if elapsed is None:
            tally.lost += 1
        else:
            tally.latencies.append(elapsed)
        await asyncio.sleep(0.5)
    await asyncio.gather(*clients, return_exceptions=True)
    return idle, tally, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()
    if not (0 < args.clients <= 256 and 0 < args.seconds <= 300):
        parser.error("at most 256 clients and 300 seconds")
    with tempfile.TemporaryDirectory(prefix="tipline-checkback-") as tmp:
        folder = Path(tmp)
        port = free_port()
        env = server_environment(folder / "data", port)
        open_tipline(env, folder)
        server = start_server(env, port)
        try:
            time.sleep(1)  # both workers up
            idle, tally, elapsed = asyncio.run(
                asyncio.wait_for(run(port, args), args.seconds + REQUEST_TIMEOUT + 60)
            )
        finally:
            stop_server(server)
    right, wrong = tally.answers["303"], tally.answers["400"]
    answered = len(tally.latencies)
    print(f"clients                     {args.clients}, for {args.seconds} s")
    print(
        f"check-backs done            {right + wrong} ({right} right, {wrong} wrong)"
        f"   {(right + wrong) / elapsed:6.1f} per second"
    )
    print(f"told busy (503)             {tally.answers['503']}")
    others = {k: v for k, v in tally.answers.items() if k not in ("303", "400", "503")}
    print(f"other answers               {others or 'none'}")
    print(
        f"idle landing page           p50 {percentile(idle, 0.5) * 1000:7.1f} ms"
        f"   p99 {percentile(idle, 0.99) * 1000:7.1f} ms   (30 probes)"
    )
    if tally.latencies:
        p50, p99 = percentile(tally.latencies, 0.5), percentile(tally.latencies, 0.99)
        print(
            f"during check-backs          p50 {p50 * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms"
            f"   ({answered} probes)"
        )
    print(f"landing probes answered     {answered}/{answered + tally.lost}   (goal: all)")


if __name__ == "__main__":
    main()
