"""Round trips and file-object behaviour of the stream format."""

from __future__ import annotations

import gc
import io
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tipline.crypto import (
    DEFAULT_CHUNK_SIZE,
    CryptoError,
    DecryptingReader,
    DecryptionError,
    EncryptingWriter,
    decrypt_bytes,
    encrypt_bytes,
)

from ._support import (
    HEADER_LEN,
    OID,
    PROPERTY,
    SMALL_CHUNK,
    TAG_LEN,
    DribbleSink,
    NoneSink,
    WriteOnlySink,
    encrypt_in_pieces,
)


def expected_len(n: int, chunk: int) -> int:
    chunks = max(1, -(-n // chunk))
    return HEADER_LEN + n + chunks * TAG_LEN


CS = SMALL_CHUNK
SIZES = [0, 1, CS - 1, CS, CS + 1, 2 * CS, 3 * CS - 1, 3 * CS + 1, 10 * CS]


@pytest.mark.parametrize("n", SIZES)
def test_round_trip_sizes(tip_key: bytes, n: int) -> None:
    data = os.urandom(n)
    blob = encrypt_in_pieces(data, tip_key, [], CS)
    assert len(blob) == expected_len(n, CS)
    assert decrypt_bytes(blob, tip_key=tip_key, object_id=OID) == data
    with DecryptingReader(io.BytesIO(blob), tip_key=tip_key, object_id=OID) as r:
        assert r.size == n
        r.verify()
        assert r.read() == data


@pytest.mark.parametrize(
    "n",
    [
        0,
        1,
        DEFAULT_CHUNK_SIZE - 1,
        DEFAULT_CHUNK_SIZE,
        DEFAULT_CHUNK_SIZE + 1,
        3 * DEFAULT_CHUNK_SIZE + 5,
    ],
)
def test_round_trip_default_chunk(tip_key: bytes, n: int) -> None:
    data = os.urandom(n)
    blob = encrypt_bytes(data, tip_key=tip_key, object_id=OID)
    assert len(blob) == expected_len(n, DEFAULT_CHUNK_SIZE)
    assert decrypt_bytes(blob, tip_key=tip_key, object_id=OID) == data


def test_empty_plaintext_is_one_empty_final_chunk(tip_key: bytes) -> None:
    blob = encrypt_bytes(b"", tip_key=tip_key, object_id=OID)
    assert len(blob) == HEADER_LEN + TAG_LEN


@PROPERTY
@given(
    data=st.binary(max_size=12 * CS),
    sizes=st.lists(st.integers(0, 3 * CS), max_size=20),
)
def test_round_trip_odd_write_sizes(data: bytes, sizes: list[int]) -> None:
    key = b"k" * 32
    blob = encrypt_in_pieces(data, key, sizes, CS)
    assert len(blob) == expected_len(len(data), CS)
    # Where the writes fell must not matter: same salt would give same bytes,
    # so compare plaintext and structure instead.
    assert decrypt_bytes(blob, tip_key=key, object_id=OID) == data


@pytest.mark.parametrize(
    "pattern",
    [
        [CS] * 5,  # chunk-sized bytes: the zero-copy hold path
        [CS, 1, CS, CS, 3],
        [3, CS, CS],
        [CS, CS - 1, 1, CS],
        [2 * CS, CS, 5 * CS, CS],
    ],
)
def test_chunk_sized_bytes_writes_mixed_with_others(tip_key: bytes, pattern: list[int]) -> None:
    data = os.urandom(sum(pattern))
    sink = WriteOnlySink()
    with EncryptingWriter(sink, tip_key=tip_key, object_id=OID, chunk_size=CS) as w:
        pos = 0
        for n in pattern:
            w.write(data[pos : pos + n])  # always bytes
            pos += n
            # Nothing that could still be the final chunk has been sent.
            sent_chunks = (len(sink.getvalue()) - HEADER_LEN) // (CS + TAG_LEN)
            assert sent_chunks == (pos - 1) // CS
    assert decrypt_bytes(sink.getvalue(), tip_key=tip_key, object_id=OID) == data


@pytest.mark.parametrize("sink_cls", [DribbleSink, NoneSink])
def test_short_and_none_returning_sinks(tip_key: bytes, sink_cls: type) -> None:
    data = os.urandom(5 * CS + 3)
    sink = sink_cls()
    with EncryptingWriter(sink, tip_key=tip_key, object_id=OID, chunk_size=CS) as w:
        w.write(data)
    assert decrypt_bytes(sink.getvalue(), tip_key=tip_key, object_id=OID) == data


def test_writer_file_object_contract(tip_key: bytes) -> None:
    sink = WriteOnlySink()
    w = EncryptingWriter(sink, tip_key=tip_key, object_id=OID, chunk_size=CS)
    assert w.writable() and not w.readable() and not w.seekable()
    assert w.write(b"abc") == 3 and w.tell() == 3
    with pytest.raises(io.UnsupportedOperation):
        w.read(1)
    with pytest.raises(io.UnsupportedOperation):
        w.seek(0)
    with pytest.raises(io.UnsupportedOperation):
        w.fileno()
    w.close()
    w.close()  # idempotent
    assert not sink.closed, "the writer must never close its sink"
    with pytest.raises(ValueError):
        w.write(b"x")
    assert decrypt_bytes(sink.getvalue(), tip_key=tip_key, object_id=OID) == b"abc"


def test_writer_holds_at_most_one_chunk(tip_key: bytes) -> None:
    sink = WriteOnlySink()
    w = EncryptingWriter(sink, tip_key=tip_key, object_id=OID, chunk_size=CS)
    w.write(os.urandom(10 * CS))
    # Everything but the (possibly final) last chunk has already gone out.
    assert len(sink.getvalue()) == HEADER_LEN + 9 * (CS + TAG_LEN)
    w.write(b"x")
    assert len(sink.getvalue()) == HEADER_LEN + 10 * (CS + TAG_LEN)
    w.abort()


def test_mutating_caller_buffer_after_write_is_safe(tip_key: bytes) -> None:
    # io semantics: a caller may reuse its buffer as soon as write() returns.
    sink = WriteOnlySink()
    buf = bytearray(b"A" * CS)
    with EncryptingWriter(sink, tip_key=tip_key, object_id=OID, chunk_size=CS) as w:
        w.write(buf)
        buf[:] = b"B" * CS
        w.write(buf)
        buf[:] = b"C" * CS
    assert decrypt_bytes(sink.getvalue(), tip_key=tip_key, object_id=OID) == b"A" * CS + b"B" * CS


def _assert_unfinished(blob: bytes, key: bytes) -> None:
    with pytest.raises(DecryptionError):
        decrypt_bytes(blob, tip_key=key, object_id=OID)


@pytest.mark.parametrize("n", [0, 1, CS, 3 * CS, 3 * CS + 1])
def test_exception_in_with_block_does_not_finalise(tip_key: bytes, n: int) -> None:
    sink = WriteOnlySink()
    with (
        pytest.raises(RuntimeError),
        EncryptingWriter(sink, tip_key=tip_key, object_id=OID, chunk_size=CS) as w,
    ):
        w.write(os.urandom(n))
        raise RuntimeError("upload interrupted")
    assert w.closed
    _assert_unfinished(sink.getvalue(), tip_key)


def test_abort_does_not_finalise(tip_key: bytes) -> None:
    sink = WriteOnlySink()
    w = EncryptingWriter(sink, tip_key=tip_key, object_id=OID, chunk_size=CS)
    w.write(os.urandom(2 * CS))
    w.abort()
    w.close()  # a close after abort must not finalise either
    _assert_unfinished(sink.getvalue(), tip_key)


def test_garbage_collected_writer_does_not_finalise(tip_key: bytes) -> None:
    # io.IOBase.__del__ would call close() and finalise a half-written blob.
    sink = WriteOnlySink()
    w = EncryptingWriter(sink, tip_key=tip_key, object_id=OID, chunk_size=CS)
    w.write(os.urandom(CS + 5))
    del w
    gc.collect()
    _assert_unfinished(sink.getvalue(), tip_key)


def test_sink_error_on_close_leaves_stream_unfinished(tip_key: bytes) -> None:
    class FailOnFinal(WriteOnlySink):
        fail = False

        def write(self, data: bytes) -> int:
            if self.fail:
                raise OSError("connection reset")
            return super().write(data)

    sink = FailOnFinal()
    w = EncryptingWriter(sink, tip_key=tip_key, object_id=OID, chunk_size=CS)
    w.write(os.urandom(2 * CS + 1))
    sink.fail = True
    with pytest.raises(OSError):
        w.close()
    assert w.closed
    _assert_unfinished(sink.getvalue(), tip_key)


def test_sink_error_mid_stream_poisons_the_writer(tip_key: bytes) -> None:
    class FlakySink(WriteOnlySink):
        calls = 0

        def write(self, data: bytes) -> int:
            self.calls += 1
            if self.calls == 3:
                self.parts.append(bytes(data[:5]))  # half a chunk got through
                raise OSError("timeout")
            return super().write(data)

    sink = FlakySink()
    w = EncryptingWriter(sink, tip_key=tip_key, object_id=OID, chunk_size=CS)
    with pytest.raises(OSError):
        w.write(os.urandom(5 * CS))
    assert w.closed
    with pytest.raises(ValueError):
        w.write(b"more")  # a retry must not continue a broken stream
    w.close()
    _assert_unfinished(sink.getvalue(), tip_key)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tip_key": b"short"},
        {"tip_key": "x" * 32},
        {"object_id": ""},
        {"object_id": b"bytes-id"},
        {"chunk_size": 8},
        {"chunk_size": 2**30},
    ],
)
def test_writer_rejects_bad_arguments(kwargs: dict) -> None:
    args = {"tip_key": b"k" * 32, "object_id": OID, "chunk_size": CS} | kwargs
    sink = WriteOnlySink()
    with pytest.raises(CryptoError):
        EncryptingWriter(sink, **args)
    assert sink.getvalue() == b"", "nothing may be written for a rejected writer"


def test_rewriting_same_object_uses_fresh_salt(tip_key: bytes) -> None:
    a = encrypt_bytes(b"same", tip_key=tip_key, object_id=OID)
    b = encrypt_bytes(b"same", tip_key=tip_key, object_id=OID)
    assert a[9:41] != b[9:41] and a[41:] != b[41:]


def test_chunk_counter_cannot_wrap(tip_key: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit is 2**32 chunks (256 TiB at 64 KiB); a wrapped 32-bit
    # counter would reuse nonces, so the writer must stop before it.
    from tipline.crypto import stream_format, stream_writer

    blob = encrypt_in_pieces(b"y" * 4 * CS, tip_key, [], CS)  # 4 chunks, made before the cap
    monkeypatch.setattr(stream_writer, "MAX_CHUNKS", 3)
    w = EncryptingWriter(WriteOnlySink(), tip_key=tip_key, object_id=OID, chunk_size=CS)
    w.write(b"x" * 4 * CS)  # chunks 0, 1, 2 sent, chunk 3 pending
    with pytest.raises(CryptoError, match="32-bit"):
        w.close()  # chunk 3 would need counter value 3
    w.abort()

    monkeypatch.setattr(stream_format, "MAX_CHUNKS", 3)
    with pytest.raises(DecryptionError, match="too many chunks"):
        decrypt_bytes(blob, tip_key=tip_key, object_id=OID)


def test_plaintext_size_survives_close(tip_key: bytes) -> None:
    w = EncryptingWriter(WriteOnlySink(), tip_key=tip_key, object_id=OID, chunk_size=CS)
    w.write(b"x" * 1000)
    w.close()
    assert w.plaintext_size == 1000
