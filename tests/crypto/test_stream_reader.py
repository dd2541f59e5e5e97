"""DecryptingReader as an ordinary seekable file (PIL, zipfile, shutil...)."""

from __future__ import annotations

import hashlib
import io
import os
import random
import shutil
import zipfile

import pytest

from tipline.crypto import DecryptingReader, EncryptingWriter, decrypt_bytes, encrypt_bytes

from ._support import OID, SMALL_CHUNK, encrypt_in_pieces

CS = SMALL_CHUNK


@pytest.fixture
def sample(tip_key: bytes) -> tuple[bytes, bytes, bytes]:
    data = os.urandom(7 * CS + 13)
    sink = io.BytesIO()
    with EncryptingWriter(sink, tip_key=tip_key, object_id=OID, chunk_size=CS) as w:
        w.write(data)
    return tip_key, data, sink.getvalue()


def test_reader_random_access_matches_plaintext(sample: tuple[bytes, bytes, bytes]) -> None:
    key, data, blob = sample
    rng = random.Random(7)
    r = DecryptingReader(io.BytesIO(blob), tip_key=key, object_id=OID)
    assert r.readable() and r.seekable() and not r.writable()
    for _ in range(500):
        whence = rng.choice([io.SEEK_SET, io.SEEK_CUR, io.SEEK_END])
        target = rng.randrange(0, len(data) + 20)
        offset = {
            io.SEEK_SET: target,
            io.SEEK_CUR: target - r.tell(),
            io.SEEK_END: target - len(data),
        }[whence]
        assert r.seek(offset, whence) == target
        n = rng.randrange(0, 3 * CS)
        if rng.random() < 0.5:
            got = r.read(n)
        else:
            buf = bytearray(n)
            got = bytes(buf[: r.readinto(buf)])
        assert got == data[target : target + n]
        assert r.tell() == min(target + n, max(target, len(data)))


def test_reader_seek_errors_and_close(sample: tuple[bytes, bytes, bytes]) -> None:
    key, _data, blob = sample
    source = io.BytesIO(blob)
    r = DecryptingReader(source, tip_key=key, object_id=OID)
    with pytest.raises(ValueError):
        r.seek(-1)
    with pytest.raises(ValueError):
        r.seek(0, 3)
    with pytest.raises(io.UnsupportedOperation):
        r.write(b"x")
    with pytest.raises(io.UnsupportedOperation):
        r.fileno()  # nobody may bypass decryption through the descriptor
    r.close()
    assert not source.closed, "the reader must not close its source"
    with pytest.raises(ValueError):
        r.read(1)


def test_reader_does_not_depend_on_source_position(sample: tuple[bytes, bytes, bytes]) -> None:
    key, data, blob = sample
    source = io.BytesIO(blob)
    r = DecryptingReader(source, tip_key=key, object_id=OID)
    r2 = DecryptingReader(source, tip_key=key, object_id=OID)
    # Two readers (or zipfile and its caller) sharing one source, interleaved.
    for start in range(0, len(data), CS - 5):
        source.seek(3)  # someone else moved it
        assert r.read(CS - 5) == data[start : start + CS - 5]
        assert r2.read(CS - 5) == data[start : start + CS - 5]


def test_buffered_reader_and_readline(tip_key: bytes) -> None:
    text = b"".join(b"line %d\n" % i for i in range(500))
    blob = encrypt_bytes(text, tip_key=tip_key, object_id=OID)
    raw = DecryptingReader(io.BytesIO(blob), tip_key=tip_key, object_id=OID)
    buffered = io.BufferedReader(raw, buffer_size=100)
    assert buffered.readline() == b"line 0\n"
    assert list(buffered)[-1] == b"line 499\n"
    buffered.seek(0)
    assert buffered.read() == text


def test_zipfile_reads_through_reader(tip_key: bytes) -> None:
    plain = io.BytesIO()
    members = {f"doc{i}.txt": os.urandom(3000 + i) for i in range(20)}
    with zipfile.ZipFile(plain, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    blob = encrypt_in_pieces(plain.getvalue(), tip_key, [], 1024)
    r = DecryptingReader(io.BytesIO(blob), tip_key=tip_key, object_id=OID)
    with zipfile.ZipFile(r) as zf:
        assert zf.testzip() is None
        for name, content in members.items():
            assert zf.read(name) == content


def test_pil_opens_image_through_reader(tip_key: bytes) -> None:
    image_mod = pytest.importorskip("PIL.Image")
    img = image_mod.new("RGB", (64, 48), (200, 30, 40))
    plain = io.BytesIO()
    img.save(plain, format="PNG")
    blob = encrypt_in_pieces(plain.getvalue(), tip_key, [], CS)
    with image_mod.open(DecryptingReader(io.BytesIO(blob), tip_key=tip_key, object_id=OID)) as im:
        im.load()
        assert im.size == (64, 48) and im.getpixel((5, 5)) == (200, 30, 40)


def test_shutil_style_copy_between_writer_and_reader(tip_key: bytes) -> None:

    data = os.urandom(300_000)
    first = io.BytesIO()
    with EncryptingWriter(first, tip_key=tip_key, object_id="raw") as w:
        shutil.copyfileobj(io.BytesIO(data), w)
    second = io.BytesIO()
    r = DecryptingReader(io.BytesIO(first.getvalue()), tip_key=tip_key, object_id="raw")
    with EncryptingWriter(second, tip_key=tip_key, object_id="clean") as w:
        shutil.copyfileobj(r, w)
    got = decrypt_bytes(second.getvalue(), tip_key=tip_key, object_id="clean")
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()


def test_reader_source_without_readinto(sample: tuple[bytes, bytes, bytes]) -> None:
    key, data, blob = sample

    class ReadOnlyish:
        def __init__(self, b: bytes) -> None:
            self._f = io.BytesIO(b)

        def read(self, n: int = -1) -> bytes:
            return self._f.read(min(n, 5) if n > 0 else n)  # short reads too

        def seek(self, off: int, whence: int = 0) -> int:
            return self._f.seek(off, whence)

    r = DecryptingReader(ReadOnlyish(blob), tip_key=key, object_id=OID)  # type: ignore[arg-type]
    assert r.read() == data


def test_reader_accepts_source_whose_seek_returns_none(tip_key: bytes) -> None:
    class NoneSeek(io.BytesIO):
        def seek(self, *args: int) -> None:  # type: ignore[override]
            super().seek(*args)

    data = os.urandom(3 * CS)
    blob = encrypt_in_pieces(data, tip_key, [], CS)
    assert DecryptingReader(NoneSeek(blob), tip_key=tip_key, object_id=OID).read() == data
