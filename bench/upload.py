"""Upload a large file through the real HTTP server and compare it with a plain file copy.

    .venv/bin/python bench/upload.py [--size-mib 1024]

Starts the server as `make run` does (``python -m config.server``: uvicorn,
here with one worker process) on a fresh data directory, streams one
multipart POST of SIZE MiB over 127.0.0.1 from a client that never holds the
body in memory, and prints:

- upload MB/s (request sent until the confirmation arrives) next to a plain
  copy of a file of the same size on the same disk, in the same run, flushed
  to disk with fsync as the tip line flushes its blobs before it confirms
  (a page-cache-only copy is printed too, for reference);
- the web worker's memory before and at its peak (VmHWM), and the growth.

Then the same size again over the resumable path, as static/upload.js sends it
from a browser (tipline/intake/tus.py): a creation POST to ``/es/uploads/``
(``Upload-Length``, ``Upload-Metadata`` and the page's secret), PATCH requests
of 16 MiB over one kept-alive connection, then the form's POST with the
upload's token, the page's secret and form id instead of the file. Timed from
the creation POST until the confirmation arrives, on a freshly started server
(same data directory) so its worker's memory is measured on its own.

The upload takes the streaming intake's path (tipline/intake/streaming.py):
parsed as it arrives, encrypted chunk by chunk into its blob. Files are only
received and encrypted here (the broker is Kombu's in-memory transport, so
the cleaning task is queued, not run): this measures intake.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._server import (  # noqa: E402
    free_port,
    memory_kib,
    open_tipline,
    server_environment,
    start_server,
    stop_server,
    worker_pids,
)

MIB = 1024 * 1024
# What static/upload.js sends in each PATCH (a multiple of the 64 KiB cipher chunk).
PATCH_BYTES = 16 * MIB


def csrf(port: int) -> tuple[str, str, str]:
    """The CSRF cookie and token, and the form's single-use token, from the landing page."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("GET", "/es/")
    response = connection.getresponse()
    body = response.read().decode()
    cookie = response.getheader("Set-Cookie").split(";", 1)[0]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
    form_token = re.search(r'name="form_token" value="([^"]+)"', body).group(1)
    return cookie, token, form_token


def upload(port: int, size: int) -> float:
    cookie, token, form_token = csrf(port)
    boundary = "bench" + secrets.token_hex(8)
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n{token}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="form_token"\r\n\r\n{form_token}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="video.mp4"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    block = os.urandom(MIB)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    started = time.perf_counter()
    connection.putrequest("POST", "/es/send/")
    for name, value in {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + size + len(tail)),
        "Cookie": cookie,
        "Origin": f"http://127.0.0.1:{port}",
        "Referer": f"http://127.0.0.1:{port}/es/",
    }.items():
        connection.putheader(name, value)
    connection.endheaders()
    connection.send(head)
    for _ in range(size // MIB):
        connection.send(block)
    connection.send(tail)
    response = connection.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise RuntimeError(f"upload refused: HTTP {response.status}")
    return elapsed


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def resumable_upload(port: int, size: int) -> float:
    """The browser's resumable path: tus creation, 16 MiB PATCHes, then the form's POST."""
    cookie, token, form_token = csrf(port)
    origin = f"http://127.0.0.1:{port}"
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    form_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
    tus = {"Tus-Resumable": "1.0.0", "Tipline-Upload-Secret": secret, "Origin": origin}
    metadata = ",".join(
        [
            f"filename {_b64('video.mp4')}",
            f"form_token {_b64(form_token)}",
            f"form_id {_b64(form_id)}",
        ]
    )
    block = os.urandom(MIB)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    started = time.perf_counter()
    connection.request(
        "POST",
        "/es/uploads/",
        headers={**tus, "Upload-Length": str(size), "Upload-Metadata": metadata},
    )
    response = connection.getresponse()
    response.read()
    location = response.getheader("Location")
    if response.status != 201 or not location:
        raise RuntimeError(f"resumable upload not created: HTTP {response.status}")
    offset = int(response.getheader("Upload-Offset") or 0)
    while offset < size:
        piece = min(PATCH_BYTES, size - offset)
        connection.putrequest("PATCH", location)
        for name, value in {
            **tus,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
            "Content-Length": str(piece),
        }.items():
            connection.putheader(name, value)
        connection.endheaders()
        left = piece
        while left:
            connection.send(block[: min(MIB, left)])
            left -= min(MIB, left)
        response = connection.getresponse()
        response.read()
        answered = response.getheader("Upload-Offset")
        if response.status != 204 or answered is None or int(answered) != offset + piece:
            raise RuntimeError(f"PATCH refused: HTTP {response.status}")
        offset = int(answered)
    boundary = "bench" + secrets.token_hex(8)
    fields = {
        "csrfmiddlewaretoken": token,
        "form_token": form_token,
        "upload": location.rsplit("/", 1)[-1],
        "upload_secret": secret,
        "upload_form": form_id,
    }
    body = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    )
    body += f"--{boundary}--\r\n"
    connection.request(
        "POST",
        "/es/send/",
        body=body.encode(),
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Cookie": cookie,
            "Origin": origin,
            "Referer": f"{origin}/es/",
        },
    )
    response = connection.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"resumable form refused: HTTP {response.status}")
    return elapsed


def measured(env: dict[str, str], port: int, send, size: int) -> tuple[float, int, int]:
    """Seconds of ``send`` on a freshly started server, its worker's memory before and at peak."""
    server = start_server(env, port)
    try:
        # One worker: uvicorn serves from its own process, no supervisor.
        (pid,) = worker_pids(server.pid) or [server.pid]
        csrf(port)  # warm up: imports, templates, database connection
        before = memory_kib(pid, "VmRSS")
        seconds = send(port, size)
        peak = memory_kib(pid, "VmHWM")
    finally:
        stop_server(server)
    return seconds, before, peak


def plain_copy(folder: Path, size: int, *, flush: bool) -> float:
    source, target = folder / "source.bin", folder / "copy.bin"
    block = os.urandom(MIB)
    with source.open("wb") as handle:
        for _ in range(size // MIB):
            handle.write(block)
    started = time.perf_counter()
    shutil.copyfile(source, target)
    if flush:
        with target.open("rb+") as handle:
            os.fsync(handle.fileno())
    elapsed = time.perf_counter() - started
    source.unlink()
    target.unlink()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    size_mib = parser.parse_args().size_mib
    size = size_mib * MIB
    with tempfile.TemporaryDirectory(
        prefix="tipline-bench-", dir=ROOT / "var" if (ROOT / "var").exists() else None
    ) as tmp:
        folder = Path(tmp)
        port = free_port()
        env = server_environment(
            folder / "data",
            port,
            WEB_WORKERS="1",
            CELERY_BROKER_URL="memory://",
            TIPLINE_MAX_FILE_MB=str(size_mib + 1),
            TIPLINE_MAX_TIP_MB=str(size_mib + 1),
        )
        open_tipline(env, folder)
        upload_seconds, before, peak = measured(env, port, upload, size)
        resumable_seconds, tus_before, tus_peak = measured(env, port, resumable_upload, size)
        copy_seconds = plain_copy(folder, size, flush=True)
        cached_copy_seconds = plain_copy(folder, size, flush=False)
    upload_rate, copy_rate = size / MIB / upload_seconds, size / MIB / copy_seconds
    print(f"size                     {size_mib} MiB")
    print(f"upload through uvicorn   {upload_rate:8.1f} MiB/s  ({upload_seconds:.2f} s)")
    print(f"plain file copy + fsync  {copy_rate:8.1f} MiB/s  ({copy_seconds:.2f} s)")
    cached_rate = size / MIB / cached_copy_seconds
    print(f"plain copy, page cache   {cached_rate:8.1f} MiB/s  ({cached_copy_seconds:.2f} s)")
    print(f"upload / copy + fsync    {upload_rate / copy_rate:8.2f}   (goal >= 0.80)")
    print(
        f"upload / cached copy     {upload_rate / cached_rate:8.2f}   (for reference: blobs are fsynced)"
    )
    print(f"worker memory before     {before / 1024:8.1f} MiB")
    print(f"worker memory peak       {peak / 1024:8.1f} MiB")
    print(f"growth                   {(peak - before) / 1024:8.1f} MiB   (goal < 64)")
    tus_rate = size / MIB / resumable_seconds
    print(f"resumable upload (tus)   {tus_rate:8.1f} MiB/s  ({resumable_seconds:.2f} s)")
    print(f"resumable / copy + fsync {tus_rate / copy_rate:8.2f}   (goal >= 0.5)")
    print(f"resumable worker before  {tus_before / 1024:8.1f} MiB")
    print(f"resumable worker peak    {tus_peak / 1024:8.1f} MiB")
    print(f"resumable growth         {(tus_peak - tus_before) / 1024:8.1f} MiB   (goal < 64)")


if __name__ == "__main__":
    main()
