"""Resuming an unfinished stream: checkpoint, cut, resume, and the same bytes as one writer.

A large upload over Tor arrives over several connections. The server writes
whole chunks as they come (``checkpoint``), loses whatever partial chunk a
broken connection left, and continues later with ``EncryptingWriter.resume``
from the stream's header and its count of whole chunks. The finished blob must
be exactly the stream one writer would have made; any mistake in the count,
the header, the key or the object must fail to decrypt, never pass silently.
"""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tipline.crypto import (
    STREAM_HEADER_LEN,
    CryptoError,
    DecryptingReader,
    DecryptionError,
    EncryptingWriter,
    decrypt_bytes,
    new_tip_key,
    stream_prefix_length,
)
from tipline.crypto.stream_writer import _writer_with_salt

from ._support import HEADER_LEN, OID, PROPERTY, SMALL_CHUNK, TAG_LEN, assert_rejected

CS = SMALL_CHUNK


class Spool(io.BytesIO):
    """A spool file: what a server keeps between connections (only ``write`` is used)."""


def first_session(data: bytes, key: bytes, upto: int) -> tuple[bytes, int]:
    """Write ``data[:upto]``, checkpoint, then break off; (bytes on disk, whole chunks)."""
    sink = io.BytesIO()
    writer = EncryptingWriter(sink, tip_key=key, object_id=OID, chunk_size=CS)
    writer.write(data[:upto])
    chunks = writer.checkpoint()
    writer.abort()  # the connection broke: the partial chunk is lost
    return sink.getvalue(), chunks


def resume_session(
    stored: bytes, data: bytes, key: bytes, chunks: int, upto: int, *, finish: bool
) -> tuple[bytes, int]:
    """Cut ``stored`` back to its whole chunks, resume there, write ``data`` up to ``upto``."""
    kept = stored[: stream_prefix_length(CS, chunks)]
    sink = io.BytesIO(kept)
    sink.seek(0, io.SEEK_END)
    last = kept[-(CS + TAG_LEN) :] if chunks else None
    writer = EncryptingWriter.resume(
        sink,
        tip_key=key,
        object_id=OID,
        header=kept[:STREAM_HEADER_LEN],
        chunks_written=chunks,
        last_chunk=last,
    )
    assert writer.plaintext_size == chunks * CS
    writer.write(data[chunks * CS : upto])
    if finish:
        writer.close()
        return sink.getvalue(), writer.chunks_written
    chunks = writer.checkpoint()
    writer.abort()
    return sink.getvalue(), chunks


def one_writer_with_salt(data: bytes, key: bytes, salt: bytes) -> bytes:
    sink = io.BytesIO()
    with _writer_with_salt(sink, tip_key=key, object_id=OID, chunk_size=CS, salt=salt) as writer:
        writer.write(data)
    return sink.getvalue()


def written_in_sessions(data: bytes, key: bytes, cuts: list[int]) -> bytes:
    stored, chunks = first_session(data, key, cuts[0])
    for cut in cuts[1:]:
        stored, chunks = resume_session(stored, data, key, chunks, cut, finish=False)
    stored, _ = resume_session(stored, data, key, chunks, len(data), finish=True)
    return stored


@pytest.mark.parametrize(
    "size, cuts",
    [
        (10 * CS, [3 * CS + 5, 3 * CS + 5, 7 * CS - 1]),  # a session that brings nothing new
        (10 * CS, [CS - 1, 2 * CS, 9 * CS + 1]),  # the first cut before any whole chunk
        (10 * CS + 7, [5 * CS, 10 * CS]),  # the last full chunk is not the final one
        (4 * CS, [CS, 2 * CS, 3 * CS]),  # every cut on a boundary; the final chunk is full
        (1, [0]),
        (0, [0]),
    ],
)
def test_a_stream_written_in_several_sessions_is_the_stream_one_writer_makes(
    tip_key: bytes, size: int, cuts: list[int]
) -> None:
    data = os.urandom(size)
    stored = written_in_sessions(data, tip_key, cuts)
    assert decrypt_bytes(stored, tip_key=tip_key, object_id=OID) == data
    salt = stored[HEADER_LEN - 32 : HEADER_LEN]
    assert stored == one_writer_with_salt(data, tip_key, salt)
    with DecryptingReader(io.BytesIO(stored), tip_key=tip_key, object_id=OID) as reader:
        reader.verify()
        assert reader.size == size


@PROPERTY
@given(
    data=st.binary(min_size=0, max_size=12 * CS),
    fractions=st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=6),
)
def test_any_sequence_of_broken_sessions_decrypts_to_the_original(
    data: bytes, fractions: list[float]
) -> None:
    key = new_tip_key()
    cuts = [int(len(data) * f) for f in fractions]
    stored = written_in_sessions(data, key, cuts)
    assert decrypt_bytes(stored, tip_key=key, object_id=OID) == data


def test_checkpoint_writes_out_the_chunk_held_back_and_keeps_the_partial_one(
    tip_key: bytes,
) -> None:
    sink = io.BytesIO()
    writer = EncryptingWriter(sink, tip_key=tip_key, object_id=OID, chunk_size=CS)
    writer.write(os.urandom(CS))
    # A full chunk is held back (it might be the last) until told otherwise.
    assert writer.chunks_written == 0 and len(sink.getvalue()) == HEADER_LEN
    assert writer.checkpoint() == 1
    assert len(sink.getvalue()) == stream_prefix_length(CS, 1)
    writer.write(os.urandom(CS + 10))
    assert writer.checkpoint() == 2  # the 10 bytes stay pending
    assert len(sink.getvalue()) == stream_prefix_length(CS, 2)
    writer.abort()


@pytest.mark.parametrize("claimed", [2, 4, 5])
def test_resuming_at_a_wrong_chunk_count_never_decrypts(tip_key: bytes, claimed: int) -> None:
    data = os.urandom(8 * CS)
    stored, chunks = first_session(data, tip_key, 3 * CS + 9)
    assert chunks == 3
    # The spool holds 3 whole chunks; the caller claims another number.
    kept = stored[: stream_prefix_length(CS, chunks)]
    sink = io.BytesIO(kept)
    sink.seek(0, io.SEEK_END)
    writer = EncryptingWriter.resume(
        sink, tip_key=tip_key, object_id=OID, header=kept[:HEADER_LEN], chunks_written=claimed
    )
    writer.write(data[claimed * CS :])
    writer.close()
    assert_rejected(sink.getvalue(), tip_key=tip_key, object_id=OID, plaintext=data)


@pytest.mark.parametrize("claimed", [1, 2, 4])
def test_the_last_chunk_check_refuses_a_wrong_count_before_writing(
    tip_key: bytes, claimed: int
) -> None:
    data = os.urandom(8 * CS)
    stored, chunks = first_session(data, tip_key, 3 * CS + 9)
    last = stored[stream_prefix_length(CS, chunks - 1) : stream_prefix_length(CS, chunks)]
    sink = Spool(stored)
    with pytest.raises(DecryptionError):
        EncryptingWriter.resume(
            sink,
            tip_key=tip_key,
            object_id=OID,
            header=stored[:HEADER_LEN],
            chunks_written=claimed,
            last_chunk=last,
        )
    assert sink.getvalue() == stored  # nothing written


def test_resuming_under_another_header_never_decrypts(tip_key: bytes) -> None:
    data = os.urandom(6 * CS)
    stored, chunks = first_session(data, tip_key, 2 * CS)
    other_header, _ = first_session(data, tip_key, 0)  # same object, another write's salt
    sink = io.BytesIO(stored)
    sink.seek(0, io.SEEK_END)
    writer = EncryptingWriter.resume(
        sink,
        tip_key=tip_key,
        object_id=OID,
        header=other_header[:HEADER_LEN],
        chunks_written=chunks,
    )
    writer.write(data[chunks * CS :])
    writer.close()
    assert_rejected(sink.getvalue(), tip_key=tip_key, object_id=OID, plaintext=data)


def test_the_last_chunk_check_refuses_another_header_key_or_object(tip_key: bytes) -> None:
    data = os.urandom(6 * CS)
    stored, chunks = first_session(data, tip_key, 2 * CS + 1)
    header, last = stored[:HEADER_LEN], stored[-(CS + TAG_LEN) :]
    other_salt = first_session(data, tip_key, 0)[0][:HEADER_LEN]
    other_size = header[:5] + (CS * 2).to_bytes(4, "big") + header[9:]
    attempts = [
        dict(tip_key=tip_key, object_id=OID, header=other_salt),
        dict(tip_key=new_tip_key(), object_id=OID, header=header),
        dict(tip_key=tip_key, object_id="tip-1/file-2", header=header),
    ]
    for attempt in attempts:
        with pytest.raises(DecryptionError):
            EncryptingWriter.resume(io.BytesIO(), chunks_written=chunks, last_chunk=last, **attempt)
    # A changed chunk size changes the chunk's expected length as well.
    with pytest.raises(DecryptionError):
        EncryptingWriter.resume(
            io.BytesIO(),
            tip_key=tip_key,
            object_id=OID,
            header=other_size,
            chunks_written=chunks,
            last_chunk=last,
        )


@pytest.mark.parametrize(
    "header",
    [b"", b"TLST\x01", b"XXXX" + bytes(37), b"TLST\x02" + bytes(36), b"TLST\x01" + bytes(36)],
)
def test_a_malformed_header_is_refused(tip_key: bytes, header: bytes) -> None:
    with pytest.raises(DecryptionError):
        EncryptingWriter.resume(
            io.BytesIO(), tip_key=tip_key, object_id=OID, header=header, chunks_written=0
        )


@pytest.mark.parametrize("chunks", [-1, 2**32, True, 1.0, "1"])
def test_the_chunk_count_is_checked(tip_key: bytes, chunks: object) -> None:
    header = first_session(b"", tip_key, 0)[0]
    with pytest.raises(CryptoError):
        EncryptingWriter.resume(
            io.BytesIO(),
            tip_key=tip_key,
            object_id=OID,
            header=header,
            chunks_written=chunks,  # type: ignore[arg-type]
        )


def test_no_last_chunk_to_check_before_the_first(tip_key: bytes) -> None:
    header = first_session(b"", tip_key, 0)[0]
    with pytest.raises(CryptoError):
        EncryptingWriter.resume(
            io.BytesIO(),
            tip_key=tip_key,
            object_id=OID,
            header=header,
            chunks_written=0,
            last_chunk=bytes(CS + TAG_LEN),
        )


def test_the_final_flag_still_catches_truncation_of_a_resumed_stream(tip_key: bytes) -> None:
    data = os.urandom(6 * CS + 3)
    stored = written_in_sessions(data, tip_key, [2 * CS + 1, 4 * CS])
    for chunks in range(0, 7):
        cut = stored[: stream_prefix_length(CS, chunks)]
        assert_rejected(cut, tip_key=tip_key, object_id=OID, plaintext=data)
    # An unfinished stream (checkpointed, then the connection broke) is truncated too.
    unfinished, chunks = first_session(data, tip_key, 5 * CS)
    assert chunks == 5
    assert_rejected(unfinished, tip_key=tip_key, object_id=OID, plaintext=data)


def test_closing_with_nothing_after_a_checkpoint_or_resume_is_refused(tip_key: bytes) -> None:
    sink = io.BytesIO()
    writer = EncryptingWriter(sink, tip_key=tip_key, object_id=OID, chunk_size=CS)
    writer.write(os.urandom(2 * CS))
    writer.checkpoint()
    with pytest.raises(CryptoError):
        writer.close()
    assert_rejected(sink.getvalue(), tip_key=tip_key, object_id=OID)

    stored = sink.getvalue()
    resumed = io.BytesIO(stored)
    resumed.seek(0, io.SEEK_END)
    writer = EncryptingWriter.resume(
        resumed, tip_key=tip_key, object_id=OID, header=stored[:HEADER_LEN], chunks_written=2
    )
    with pytest.raises(CryptoError):
        writer.close()
    assert resumed.getvalue() == stored  # no empty final chunk was written


def test_resume_does_not_write_the_header_again(tip_key: bytes) -> None:
    header = first_session(b"", tip_key, 0)[0]
    sink = io.BytesIO(header)
    sink.seek(0, io.SEEK_END)
    data = os.urandom(CS + 1)
    with EncryptingWriter.resume(
        sink, tip_key=tip_key, object_id=OID, header=header, chunks_written=0
    ) as writer:
        writer.write(data)
    assert sink.getvalue().count(header) == 1
    assert decrypt_bytes(sink.getvalue(), tip_key=tip_key, object_id=OID) == data


def test_stream_prefix_length_follows_the_documented_layout() -> None:
    assert STREAM_HEADER_LEN == HEADER_LEN
    assert stream_prefix_length(65536, 0) == 41
    assert stream_prefix_length(65536, 3) == 41 + 3 * (65536 + 16)
    for bad in (-1, 2**32):
        with pytest.raises(CryptoError):
            stream_prefix_length(65536, bad)
    with pytest.raises(CryptoError):
        stream_prefix_length(8, 1)
