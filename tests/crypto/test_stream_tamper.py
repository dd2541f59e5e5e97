"""Every way of damaging a stored stream must end in DecryptionError.

Chunks are 64 bytes here so that "every bit" and "every cut" really are every
bit and every cut of multi-chunk streams.
"""

from __future__ import annotations

import io

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tipline.crypto import DecryptingReader, DecryptionError, decrypt_bytes
from tipline.crypto.stream import _encrypt_bytes_with_salt

from ._support import HEADER_LEN, PROPERTY, SMALL_CHUNK, TAG_LEN, assert_rejected, chunk_spans

KEY = bytes(range(32))
OID = "tip/1/file/1/raw"
CS = SMALL_CHUNK
# 0 bytes, 1 byte, exactly one chunk, several chunks with a partial tail,
# several chunks ending exactly on a boundary.
LENGTHS = [0, 1, CS, 3 * CS + 10, 4 * CS]


def make(
    n: int, *, key: bytes = KEY, oid: str = OID, salt: bytes = b"s" * 32
) -> tuple[bytes, bytes]:
    plaintext = bytes((i * 7 + n) % 251 for i in range(n))
    blob = _encrypt_bytes_with_salt(plaintext, tip_key=key, object_id=oid, salt=salt, chunk_size=CS)
    return plaintext, blob


def chunks_of(blob: bytes) -> tuple[bytes, list[bytes]]:
    return blob[:HEADER_LEN], [blob[a:b] for a, b in chunk_spans(len(blob), CS)]


@pytest.mark.parametrize("n", LENGTHS)
def test_every_single_bit_flip_is_rejected(n: int) -> None:
    plaintext, blob = make(n)
    assert decrypt_bytes(blob, tip_key=KEY, object_id=OID) == plaintext
    for bit in range(len(blob) * 8):
        damaged = bytearray(blob)
        damaged[bit // 8] ^= 1 << (bit % 8)
        assert_rejected(bytes(damaged), tip_key=KEY, object_id=OID, plaintext=plaintext)


@pytest.mark.parametrize("n", LENGTHS)
def test_truncation_at_every_byte_is_rejected(n: int) -> None:
    plaintext, blob = make(n)
    for cut in range(len(blob)):
        assert_rejected(blob[:cut], tip_key=KEY, object_id=OID, plaintext=plaintext)


def test_truncation_exactly_at_chunk_boundaries_is_rejected() -> None:
    # The dangerous cut: what remains is a well-formed sequence of whole
    # chunks, and only the final-chunk flag in the nonce can tell.
    plaintext, blob = make(5 * CS + 3)
    boundaries = [end for _start, end in chunk_spans(len(blob), CS)][:-1]
    assert len(boundaries) == 5
    for cut in boundaries:
        with pytest.raises(DecryptionError):
            DecryptingReader(io.BytesIO(blob[:cut]), tip_key=KEY, object_id=OID)
        assert_rejected(blob[:cut], tip_key=KEY, object_id=OID, plaintext=plaintext)


@PROPERTY
@given(order=st.lists(st.integers(0, 4), min_size=0, max_size=8))
def test_any_reorder_swap_duplication_or_deletion_is_rejected(order: list[int]) -> None:
    plaintext, blob = make(4 * CS + 10)  # five chunks, indices 0..4
    header, chunks = chunks_of(blob)
    assume(order != list(range(5)))
    forged = header + b"".join(chunks[i] for i in order)
    assert_rejected(forged, tip_key=KEY, object_id=OID, plaintext=plaintext)


@pytest.mark.parametrize(
    "donor",
    [
        {"oid": "tip/1/file/2/raw"},  # another object of the same tip
        {"salt": b"t" * 32},  # the same object, written again
        {"key": bytes(32)},  # another tip
    ],
)
@pytest.mark.parametrize("position", [0, 2, 4])
def test_chunk_transplanted_from_another_object_is_rejected(donor: dict, position: int) -> None:
    plaintext, blob = make(4 * CS + 10)
    _, other = make(4 * CS + 10, **donor)
    header, chunks = chunks_of(blob)
    _, other_chunks = chunks_of(other)
    chunks[position] = other_chunks[position]
    assert_rejected(header + b"".join(chunks), tip_key=KEY, object_id=OID, plaintext=plaintext)


def test_header_from_another_write_is_rejected() -> None:
    plaintext, blob = make(3 * CS)
    other_plain, other = make(3 * CS, salt=b"u" * 32)
    assert_rejected(other[:HEADER_LEN] + blob[HEADER_LEN:], tip_key=KEY, object_id=OID)
    assert_rejected(blob[:HEADER_LEN] + other[HEADER_LEN:], tip_key=KEY, object_id=OID)


@pytest.mark.parametrize("version", [0x00, 0x02, 0xFF])
def test_header_claiming_another_version_is_rejected(version: int) -> None:
    _, blob = make(2 * CS)
    forged = blob[:4] + bytes([version]) + blob[5:]
    with pytest.raises(DecryptionError, match="version"):
        decrypt_bytes(forged, tip_key=KEY, object_id=OID)


@pytest.mark.parametrize("chunk_size", [CS - 1, CS + 1, 2 * CS, 16, 2**24, 2**32 - 1, 0])
def test_header_with_another_chunk_size_is_rejected(chunk_size: int) -> None:
    _, blob = make(4 * CS + 10)
    forged = blob[:5] + chunk_size.to_bytes(4, "big") + blob[9:]
    assert_rejected(forged, tip_key=KEY, object_id=OID)


def test_bad_magic_is_rejected() -> None:
    _, blob = make(10)
    assert_rejected(b"XXXX" + blob[4:], tip_key=KEY, object_id=OID)


@pytest.mark.parametrize("extra", [b"\x00", b"x" * TAG_LEN, b"y" * (CS + TAG_LEN)])
def test_appended_bytes_are_rejected(extra: bytes) -> None:
    _, blob = make(2 * CS + 5)
    assert_rejected(blob + extra, tip_key=KEY, object_id=OID)


def test_appending_a_real_chunk_after_a_full_final_chunk_is_rejected() -> None:
    # Stream of exactly two chunks plus the (full) final chunk of a longer
    # write of the same object: lengths line up, nonces must not.
    _, blob = make(2 * CS)
    _, longer = make(3 * CS)
    _, other_chunks = chunks_of(longer)
    assert_rejected(blob + other_chunks[2], tip_key=KEY, object_id=OID)


@pytest.mark.parametrize("n", LENGTHS)
def test_wrong_key_or_object_id_is_rejected(n: int) -> None:
    _, blob = make(n)
    assert_rejected(blob, tip_key=bytes(32), object_id=OID)
    assert_rejected(blob, tip_key=KEY, object_id=OID + "x")
    assert_rejected(blob, tip_key=KEY, object_id="tip/1/file/1/clean")


@pytest.mark.parametrize("blob", [b"", b"TLST", b"TLST\x01" + bytes(36), b"TLST\x01" + bytes(52)])
def test_garbage_is_rejected(blob: bytes) -> None:
    assert_rejected(blob, tip_key=KEY, object_id=OID)


@PROPERTY
@given(data=st.data())
def test_arbitrary_byte_corruption_is_rejected(data: st.DataObject) -> None:
    n = data.draw(st.sampled_from(LENGTHS))
    plaintext, blob = make(n)
    edits = data.draw(
        st.dictionaries(st.integers(0, len(blob) - 1), st.integers(1, 255), min_size=1, max_size=6)
    )
    damaged = bytearray(blob)
    for pos, xor in edits.items():
        damaged[pos] ^= xor
    assert_rejected(bytes(damaged), tip_key=KEY, object_id=OID, plaintext=plaintext)


def test_failed_reader_refuses_all_further_reads() -> None:
    plaintext, blob = make(4 * CS + 10)
    damaged = bytearray(blob)
    damaged[HEADER_LEN + (CS + TAG_LEN) + 3] ^= 1  # inside chunk 1
    r = DecryptingReader(io.BytesIO(bytes(damaged)), tip_key=KEY, object_id=OID)
    assert r.read(CS) == plaintext[:CS]  # chunk 0 is intact and authentic
    with pytest.raises(DecryptionError):
        r.read(1)
    # Chunk 3 is intact, but a reader that has seen damage serves nothing more.
    with pytest.raises(DecryptionError):
        r.seek(3 * CS)
        r.read(1)
    with pytest.raises(DecryptionError):
        r.verify()


def test_failed_readinto_wipes_the_callers_buffer() -> None:
    # decrypt_into writes unauthenticated plaintext before checking the tag.
    _, blob = make(2 * CS)
    damaged = bytearray(blob)
    damaged[HEADER_LEN + 5] ^= 1  # chunk 0
    r = DecryptingReader(io.BytesIO(bytes(damaged)), tip_key=KEY, object_id=OID)
    buf = bytearray(CS)
    with pytest.raises(DecryptionError):
        r.readinto(buf)
    assert buf == bytearray(CS)


def test_source_that_shrinks_after_open_is_rejected() -> None:
    plaintext, blob = make(4 * CS + 10)
    source = io.BytesIO(blob)
    r = DecryptingReader(source, tip_key=KEY, object_id=OID)
    source.truncate(HEADER_LEN + CS + TAG_LEN + 5)
    assert r.read(CS) == plaintext[:CS]
    with pytest.raises(DecryptionError):
        r.read()


def test_non_canonical_empty_final_chunk_is_rejected() -> None:
    # A correctly encrypted stream whose final chunk is empty after full
    # chunks is never produced by the writer; refusing it keeps exactly one
    # valid encoding per plaintext (so the length alone tells the size).
    from tipline.crypto.stream_writer import _writer_with_salt

    sink = io.BytesIO()
    w = _writer_with_salt(sink, tip_key=KEY, object_id=OID, chunk_size=CS, salt=b"s" * 32)
    w._emit(memoryview(b"a" * CS), final=False)
    w._emit(memoryview(b"b" * CS), final=False)
    w._emit(memoryview(b""), final=True)
    w.abort()
    with pytest.raises(DecryptionError, match="non-canonical"):
        decrypt_bytes(sink.getvalue(), tip_key=KEY, object_id=OID)
