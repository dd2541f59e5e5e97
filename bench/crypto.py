"""Throughput, latency and memory of the stream encryption (tipline.crypto).

Usage::

    .venv/bin/python bench/crypto.py [--size-mib 1024] [--chunk-kib 256]
                                     [--sweep 64,128,256,512,1024]

Each measurement runs in a fresh child process so that ``ru_maxrss`` (the
process's peak resident memory) belongs to that measurement alone; it is run
at two sizes (N and N/8) to show the peak does not depend on the size.
Stream code and its raw AES-GCM baseline are timed in turns in the same
process over the same memory, best of several turns (the machine is shared:
noise only slows).  Columns:

* raw enc / writer / w/enc: AESGCM.encrypt over chunk-sized slices of the
  data fed to the writer, then EncryptingWriter into a sink that discards,
  fed with ``writeK`` byte writes (Django's upload handler and shutil deliver
  64 KiB or more), and their ratio;
* raw dec / reader / r/dec*: AESGCM.decrypt_into every chunk of one real
  stream held in memory, straight from that buffer into a ``writeK`` buffer;
  then DecryptingReader over io.BytesIO of the same bytes, read with
  readinto(``writeK`` buffer); their ratio is THE GOAL RATIO (>= 80%);
* dec+io / file rd / f/dec+io: the same stream as a page-cached temp file,
  read chunk by chunk with readinto and decrypted (the least any reader of a
  file must do), then DecryptingReader over that file as above, and ratio;
* hot dec: decrypt_into of one cache-hot chunk again and again, the ceiling
  of AES-GCM itself; a stream's ciphertext comes from RAM, so even raw dec
  stays well below it (not a goal, for reference);
* rand4K us: mean latency of seek(random) + read(4096) on a fresh file
  reader, i.e. one chunk read and decrypted per call (what an image parser
  pays);
* peakRSS+: ru_maxrss growth over the baseline after imports and the
  writer's input block, during the writer, file reader and random reads
  (before the in-memory stream exists; the ``writeK`` read buffer counts);
* memRSS+: further growth while the in-memory reader and raw dec run over
  the stream (the stream itself excluded): what reading it in place costs.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tipline.crypto import DecryptingReader, EncryptingWriter, new_tip_key
from tipline.crypto._rawbench import (
    raw_decrypt_file_seconds,
    raw_decrypt_hot_seconds,
    raw_decrypt_seconds,
    raw_encrypt_seconds,
)

MIB = 1024 * 1024
RANDOM_READS = 300
OID = "bench"


class DiscardSink:
    """A non-seekable sink that only counts, like an upload body."""

    def __init__(self) -> None:
        self.count = 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        return len(data)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def feed(writer: EncryptingWriter, block: bytes, size: int) -> None:
    for _ in range(size // len(block)):
        writer.write(block)
    if size % len(block):
        writer.write(block[: size % len(block)])


def time_writer(block: bytes, size: int, chunk: int, key: bytes) -> float:
    start = time.perf_counter()
    with EncryptingWriter(DiscardSink(), tip_key=key, object_id=OID, chunk_size=chunk) as w:
        feed(w, block, size)
    return time.perf_counter() - start


def time_reader(source: BinaryIO, read_size: int, key: bytes) -> float:
    """Seconds to construct a reader over ``source`` and readinto() all of it."""
    buf = bytearray(read_size)
    start = time.perf_counter()
    with DecryptingReader(source, tip_key=key, object_id=OID) as r:
        while r.readinto(buf):
            pass
    return time.perf_counter() - start


def time_file_reader(path: str, read_size: int, key: bytes) -> float:
    with open(path, "rb", buffering=0) as src:
        return time_reader(src, read_size, key)


def time_raw_file(path: str, key: bytes) -> float:
    with open(path, "rb", buffering=0) as src:
        return raw_decrypt_file_seconds(src, key, OID)


def best_in_turns(turns: int, **timers: Callable[[], float]) -> dict[str, float]:
    """Fastest time of each timer, run in turns so that noise hits all alike."""
    best = dict.fromkeys(timers, math.inf)
    for _ in range(turns):
        for name, timer in timers.items():
            best[name] = min(best[name], timer())
    return best


def random_read_us(path: str, size: int, key: bytes) -> float:
    rng = random.Random(1)
    with open(path, "rb", buffering=0) as src:
        r = DecryptingReader(src, tip_key=key, object_id=OID)
        start = time.perf_counter()
        for _ in range(RANDOM_READS):
            r.seek(rng.randrange(max(1, size - 4096)))
            r.read(4096)
        return (time.perf_counter() - start) / RANDOM_READS * 1e6


def measure_writer(block: bytes, size: int, chunk: int, key: bytes) -> dict[str, float]:
    # The raw baseline encrypts chunk-sized slices of what the writer is fed.
    data = block * max(1, chunk // len(block))
    n_chunks = size // chunk
    t = best_in_turns(
        3,
        raw_enc=lambda: raw_encrypt_seconds(data, chunk, n_chunks),
        writer=lambda: time_writer(block, size, chunk, key),
    )
    return {"raw_enc": size / t["raw_enc"] / 1e6, "writer": size / t["writer"] / 1e6}


def measure_file(path: str, size: int, read_size: int, key: bytes) -> dict[str, float]:
    t = best_in_turns(
        3,
        raw_dec_io=lambda: time_raw_file(path, key),
        file_reader=lambda: time_file_reader(path, read_size, key),
    )
    result = {name: size / seconds / 1e6 for name, seconds in t.items()}
    result["rand_us"] = random_read_us(path, size, key)
    return result


def measure_memory(
    blob: bytes, size: int, chunk: int, read_size: int, key: bytes
) -> dict[str, float]:
    # BytesIO(blob) shares blob (no copy), so reader and raw dec read the
    # very same bytes; the 5 turns alternate between them.
    t = best_in_turns(
        5,
        raw_dec=lambda: raw_decrypt_seconds(blob, key, OID, read_size),
        reader=lambda: time_reader(io.BytesIO(blob), read_size, key),
    )
    hot = min(raw_decrypt_hot_seconds(chunk, size // chunk) for _ in range(3))
    result = {name: size / seconds / 1e6 for name, seconds in t.items()}
    result["hot_dec"] = size / hot / 1e6
    return result


def child(size_mib: int, chunk_kib: int, write_kib: int) -> dict[str, Any]:
    size, chunk, write_size = size_mib * MIB, chunk_kib * 1024, write_kib * 1024
    key = new_tip_key()
    block = os.urandom(write_size)  # the caller's data: not counted below
    base = rss_mib()
    result: dict[str, Any] = {"size_mib": size_mib, "chunk_kib": chunk_kib, "write_kib": write_kib}
    result.update(measure_writer(block, size, chunk, key))
    with tempfile.NamedTemporaryFile(prefix="tipline-bench-") as tmp:
        with EncryptingWriter(tmp, tip_key=key, object_id=OID, chunk_size=chunk) as w:
            feed(w, block, size)
        tmp.flush()
        result.update(measure_file(tmp.name, size, write_size, key))
        result["peak_rss_growth_mib"] = rss_mib() - base
        blob = Path(tmp.name).read_bytes()
    loaded = rss_mib()
    result.update(measure_memory(blob, size, chunk, write_size, key))
    result["mem_rss_growth_mib"] = rss_mib() - loaded
    return result


def run_child(size_mib: int, chunk_kib: int, write_kib: int) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--size-mib",
        str(size_mib),
        "--chunk-kib",
        str(chunk_kib),
        "--write-kib",
        str(write_kib),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


HEADINGS = (
    f"{'MiB':>5} {'chunkK':>6} {'writeK':>6} "
    f"{'raw enc':>7} {'writer':>7} {'w/enc':>5} "
    f"{'raw dec':>7} {'reader':>7} {'r/dec*':>6} "
    f"{'dec+io':>7} {'file rd':>7} {'f/dec+io':>8} "
    f"{'hot dec':>7} {'rand4K us':>9} {'peakRSS+':>8} {'memRSS+':>7}"
)
LEGEND = (
    "MB/s = 10^6 bytes/s; RSS growth in MiB.  r/dec* = DecryptingReader over\n"
    "BytesIO / raw AESGCM.decrypt_into over the same in-memory ciphertext, timed\n"
    "in turns in the same run: THE GOAL RATIO (>= 80%).  See the module docstring."
)


def print_row(r: dict[str, Any]) -> None:
    print(
        f"{r['size_mib']:>5} {r['chunk_kib']:>6} {r['write_kib']:>6} "
        f"{r['raw_enc']:>7.0f} {r['writer']:>7.0f} {r['writer'] / r['raw_enc']:>5.0%} "
        f"{r['raw_dec']:>7.0f} {r['reader']:>7.0f} {r['reader'] / r['raw_dec']:>6.0%} "
        f"{r['raw_dec_io']:>7.0f} {r['file_reader']:>7.0f} "
        f"{r['file_reader'] / r['raw_dec_io']:>8.0%} "
        f"{r['hot_dec']:>7.0f} {r['rand_us']:>9.0f} "
        f"{r['peak_rss_growth_mib']:>8.1f} {r['mem_rss_growth_mib']:>7.1f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--chunk-kib", type=int, default=0, help="0 = library default")
    parser.add_argument(
        "--write-kib", type=int, default=0, help="0 = 16, 64, the chunk size and 1024"
    )
    parser.add_argument("--sweep", default="", help="comma-separated chunk sizes in KiB")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    from tipline.crypto import DEFAULT_CHUNK_SIZE

    chunk_kib = args.chunk_kib or DEFAULT_CHUNK_SIZE // 1024
    if args.child:
        print(json.dumps(child(args.size_mib, chunk_kib, args.write_kib or chunk_kib)))
        return
    print(HEADINGS)
    print(LEGEND)
    chunks = [int(c) for c in args.sweep.split(",") if c] or [chunk_kib]
    sizes = [args.size_mib, max(1, args.size_mib // 8)]
    for chunk in chunks:
        writes = [args.write_kib] if args.write_kib else sorted({16, 64, chunk, 1024})
        for size in sizes if len(chunks) == 1 else sizes[:1]:
            for write in writes:
                print_row(run_child(size, chunk, write))


if __name__ == "__main__":
    main()
