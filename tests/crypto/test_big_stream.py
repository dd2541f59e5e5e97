"""A multi-GiB stream in bounded memory (the upload limit is only a setting).

3 GiB by default (about 20 s on the 2-core reference machine); set
TIPLINE_BIG_STREAM_GIB to change it.  The plaintext is generated on the fly
and never stored; only the ciphertext goes to a temp file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import tracemalloc
from collections.abc import Iterator

import pytest

from tipline.crypto import DecryptingReader, EncryptingWriter, new_tip_key

GIB = 1024**3
MIB = 1024**2
MEMORY_BUDGET = 32 * MIB
PIECE = 1_000_003  # odd-sized writes: chunks never line up with writes


def plaintext_pieces(total: int) -> Iterator[memoryview]:
    """Deterministic, varied plaintext without holding more than 2 MiB."""
    pool = memoryview(hashlib.shake_256(b"big stream").digest(2 * MIB))
    sent, i = 0, 0
    while sent < total:
        n = min(PIECE, total - sent)
        start = (i * 7919) % MIB
        yield pool[start : start + n]
        sent += n
        i += 1


def rss_bytes() -> int:
    """Current (not peak) resident set size, from /proc."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
def test_multi_gib_stream_round_trip_in_bounded_memory() -> None:
    total = int(float(os.environ.get("TIPLINE_BIG_STREAM_GIB", "3")) * GIB)
    key = new_tip_key()
    oid = "tip/big/file/1/raw"
    written_hash = hashlib.sha256()
    read_hash = hashlib.sha256()
    rss_base = rss_bytes()
    rss_peak = rss_base
    tracemalloc.start()
    try:
        with tempfile.TemporaryFile() as ciphertext:
            with EncryptingWriter(ciphertext, tip_key=key, object_id=oid) as writer:
                for i, piece in enumerate(plaintext_pieces(total)):
                    written_hash.update(piece)
                    writer.write(piece)
                    if i % 64 == 0:
                        rss_peak = max(rss_peak, rss_bytes())
            assert writer.plaintext_size == total

            ciphertext.flush()
            reader = DecryptingReader(ciphertext, tip_key=key, object_id=oid)
            assert reader.size == total
            buf = bytearray(MIB)
            view = memoryview(buf)
            i = 0
            while n := reader.readinto(buf):
                read_hash.update(view[:n])
                i += 1
                if i % 64 == 0:
                    rss_peak = max(rss_peak, rss_bytes())
            _, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert read_hash.digest() == written_hash.digest()
    assert traced_peak < MEMORY_BUDGET, f"Python allocations peaked at {traced_peak / MIB:.1f} MiB"
    growth = rss_peak - rss_base
    assert growth < MEMORY_BUDGET, f"RSS grew by {growth / MIB:.1f} MiB for {total / GIB:.1f} GiB"
