"""Helpers shared by the crypto tests."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, settings

from tipline.crypto import (
    Argon2Params,
    DecryptingReader,
    DecryptionError,
    EncryptingWriter,
    decrypt_bytes,
)

# Applied per test rather than as a global profile, so that loading these
# tests does not change Hypothesis settings for the rest of the suite.
# No deadline: crypto calls are fast but a loaded 2-core CI box is not steady.
PROPERTY = settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])

# Cheap Argon2 for tests ONLY, always passed explicitly: the library never
# falls back to anything weaker than Argon2Params.DEFAULT on its own.
CHEAP_ARGON2 = Argon2Params(memory_cost=64, iterations=1, lanes=1)

# Small chunks make exhaustive tamper tests over multi-chunk streams cheap.
SMALL_CHUNK = 64

HEADER_LEN = 41
TAG_LEN = 16


def chunk_spans(blob_len: int, chunk_size: int) -> list[tuple[int, int]]:
    """(start, end) of each chunk in a stream blob, from the documented layout."""
    spans = []
    start = HEADER_LEN
    while start < blob_len:
        end = min(start + chunk_size + TAG_LEN, blob_len)
        spans.append((start, end))
        start = end
    return spans


def assert_rejected(
    blob: bytes, *, tip_key: bytes, object_id: str, plaintext: bytes | None = None
) -> None:
    """Both the one-shot and the streaming reader must refuse ``blob``.

    The streaming check reads in small pieces until the error; whatever it
    returned before the error must be a prefix of the true ``plaintext``
    (chunks before the damage are authentic), never anything else.
    """
    try:
        decrypt_bytes(blob, tip_key=tip_key, object_id=object_id)
    except DecryptionError:
        pass
    else:
        raise AssertionError("decrypt_bytes accepted a tampered blob")
    # An exact BytesIO is decrypted in place, anything else through a copy:
    # both paths must refuse.
    for source in (io.BytesIO(blob), CopyingBytesIO(blob)):
        _assert_reader_rejects(source, tip_key=tip_key, object_id=object_id, plaintext=plaintext)


class CopyingBytesIO(io.BytesIO):
    """A BytesIO subclass, which DecryptingReader reads through a copy."""


def _assert_reader_rejects(
    source: io.BytesIO, *, tip_key: bytes, object_id: str, plaintext: bytes | None
) -> None:
    got = bytearray()
    try:
        with DecryptingReader(source, tip_key=tip_key, object_id=object_id) as r:
            while piece := r.read(37):
                got += piece
            r.verify()
    except DecryptionError:
        if plaintext is not None:
            assert plaintext.startswith(bytes(got)), "reader served unauthentic bytes"
        return
    raise AssertionError(f"DecryptingReader over {type(source).__name__} accepted a tampered blob")


OID = "tip-1/file-1"


class WriteOnlySink:
    """A sink with nothing but write(): proves the writer needs no seek/tell."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def getvalue(self) -> bytes:
        return b"".join(self.parts)


class DribbleSink(WriteOnlySink):
    """A raw-stream-like sink that accepts at most 7 bytes per call."""

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data[:7]))
        return min(7, len(data))


class NoneSink(WriteOnlySink):
    """Duck-typed sinks (hash objects, upload parts) often return None."""

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.parts.append(bytes(data))


def encrypt_in_pieces(data: bytes, key: bytes, sizes: list[int], chunk: int) -> bytes:
    sink = WriteOnlySink()
    with EncryptingWriter(sink, tip_key=key, object_id=OID, chunk_size=chunk) as w:
        pos = 0
        for i, n in enumerate(sizes):
            piece = data[pos : pos + n]
            # Mix bytes, bytearray and memoryview: all must be accepted.
            w.write([bytes, bytearray, memoryview][i % 3](piece))
            pos += n
        w.write(data[pos:])
        assert w.plaintext_size == len(data)
    return sink.getvalue()
