"""DecryptingReader over each kind of source: BytesIO in place, copying paths.

An exact io.BytesIO is decrypted in place from its immutable bytes; every
other source (files, BytesIO subclasses, duck-typed objects, a BytesIO whose
buffer is exported) is copied into a private buffer first.  Both paths must
behave identically, including after tampering.
"""

from __future__ import annotations

import io
import os
import random
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tipline.crypto import DecryptingReader, DecryptionError, EncryptingWriter

from ._support import HEADER_LEN, OID, SMALL_CHUNK, TAG_LEN, CopyingBytesIO

CS = SMALL_CHUNK


class ShortReads:
    """Only read() and seek(), and never more than 5 bytes per read()."""

    def __init__(self, data: bytes) -> None:
        self._f = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._f.read(min(n, 5) if n > 0 else n)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)


@pytest.fixture
def temp_file_source() -> Iterator[Callable[[bytes], Any]]:
    files: list[Any] = []

    def make(data: bytes) -> Any:
        f = tempfile.TemporaryFile()
        f.write(data)
        f.flush()
        files.append(f)
        return f

    yield make
    for f in files:
        f.close()


SOURCE_KINDS = ["bytesio", "subclass", "short_reads", "file"]


def make_source(kind: str, blob: bytes, temp_file: Callable[[bytes], Any]) -> Any:
    if kind == "bytesio":
        return io.BytesIO(blob)
    if kind == "subclass":
        return CopyingBytesIO(blob)
    if kind == "short_reads":
        return ShortReads(blob)
    return temp_file(blob)


def encrypt(data: bytes, key: bytes) -> bytes:
    sink = io.BytesIO()
    with EncryptingWriter(sink, tip_key=key, object_id=OID, chunk_size=CS) as w:
        w.write(data)
    return sink.getvalue()


def chunk_start(index: int) -> int:
    return HEADER_LEN + index * (CS + TAG_LEN)


@pytest.mark.parametrize("kind", SOURCE_KINDS)
def test_every_source_kind_reads_the_same(
    kind: str, tip_key: bytes, temp_file_source: Callable[[bytes], Any]
) -> None:
    data = os.urandom(9 * CS + 7)
    r = DecryptingReader(
        make_source(kind, encrypt(data, tip_key), temp_file_source), tip_key=tip_key, object_id=OID
    )
    rng = random.Random(kind)
    for _ in range(200):
        start = rng.randrange(len(data) + 5)
        n = rng.choice([1, CS - 1, CS, CS + 1, 3 * CS, 4 * CS + 9])
        r.seek(start)
        if rng.random() < 0.5:
            got = r.read(n)
        else:
            buf = bytearray(n)
            got = bytes(buf[: r.readinto(buf)])
        assert got == data[start : start + n]


@pytest.mark.parametrize("kind", SOURCE_KINDS)
def test_every_source_kind_rejects_tampering_and_wipes(
    kind: str, tip_key: bytes, temp_file_source: Callable[[bytes], Any]
) -> None:
    data = os.urandom(4 * CS)
    damaged = bytearray(encrypt(data, tip_key))
    damaged[chunk_start(2) + 3] ^= 0x40
    source = make_source(kind, bytes(damaged), temp_file_source)
    r = DecryptingReader(source, tip_key=tip_key, object_id=OID)
    buf = bytearray(4 * CS)
    with pytest.raises(DecryptionError):
        r.readinto(buf)  # chunks 0 and 1 go in first, then chunk 2 fails
    assert buf[2 * CS :] == bytes(2 * CS), "unauthenticated plaintext left in the buffer"
    with pytest.raises(DecryptionError):
        r.seek(0)
        r.read(1)


def test_bytesio_is_read_in_place(tip_key: bytes) -> None:
    data = os.urandom(5 * CS)
    blob = encrypt(data, tip_key)
    r = DecryptingReader(io.BytesIO(blob), tip_key=tip_key, object_id=OID)
    assert r.read() == data
    assert r._in_place is not None and r._in_place.contents is blob
    r.close()
    assert r._in_place is None, "a closed reader must not keep the caller's bytes alive"


def test_bytesio_written_after_open_is_read_as_it_is_now(tip_key: bytes) -> None:
    # Like a file: the reader sees the source's current bytes, so damage
    # written into it after the reader was built is detected, not missed
    # because of a stale view of the old bytes.
    data = os.urandom(4 * CS)
    source = io.BytesIO(encrypt(data, tip_key))
    r = DecryptingReader(source, tip_key=tip_key, object_id=OID)
    assert r.read(CS) == data[:CS]
    source.seek(chunk_start(2) + 1)
    source.write(b"\x00\xff")
    assert r.read(CS) == data[CS : 2 * CS]
    with pytest.raises(DecryptionError):
        r.read(CS)


def test_bytesio_with_an_exported_buffer_is_still_read_correctly(tip_key: bytes) -> None:
    data = os.urandom(3 * CS + 1)
    source = io.BytesIO(encrypt(data, tip_key))
    with source.getbuffer():  # getvalue() now copies: the reader must notice
        r = DecryptingReader(source, tip_key=tip_key, object_id=OID)
        assert r._in_place is None
        assert r.read() == data


def test_bytesio_exported_during_reading_falls_back_to_copying(tip_key: bytes) -> None:
    data = os.urandom(3 * CS)
    source = io.BytesIO(encrypt(data, tip_key))
    r = DecryptingReader(source, tip_key=tip_key, object_id=OID)
    assert r.read(CS) == data[:CS]
    with source.getbuffer():
        assert r.read() == data[CS:]
        assert r._in_place is None
