"""EncryptedScratchFile: behaves like io.BytesIO, stores only ciphertext."""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tipline.crypto import DecryptionError, EncryptedScratchFile

from ._support import PROPERTY, TAG_LEN

CS = 16  # tiny chunks: every operation crosses chunk boundaries


class ScratchMatchesBytesIO(RuleBasedStateMachine):
    """Random interleavings of seek/write/read/truncate/flush against a model."""

    def __init__(self) -> None:
        super().__init__()
        self.real = EncryptedScratchFile(chunk_size=CS)
        self.model = io.BytesIO()

    def teardown(self) -> None:
        self.real.close()

    @rule(data=st.binary(max_size=5 * CS))
    def write(self, data: bytes) -> None:
        assert self.real.write(data) == self.model.write(data)

    @rule(data=st.binary(min_size=1, max_size=3 * CS), kind=st.sampled_from(["ba", "mv"]))
    def write_mutable(self, data: bytes, kind: str) -> None:
        buf = bytearray(data) if kind == "ba" else memoryview(bytearray(data))
        assert self.real.write(buf) == self.model.write(data)

    @rule(pos=st.integers(0, 12 * CS))
    def seek_set(self, pos: int) -> None:
        assert self.real.seek(pos) == self.model.seek(pos)

    @rule(delta=st.integers(-4 * CS, 4 * CS))
    def seek_cur(self, delta: int) -> None:
        if self.model.tell() + delta < 0:
            with pytest.raises(ValueError):
                self.real.seek(delta, io.SEEK_CUR)
            return
        assert self.real.seek(delta, io.SEEK_CUR) == self.model.seek(delta, io.SEEK_CUR)

    @rule(delta=st.integers(-4 * CS, 4 * CS))
    def seek_end(self, delta: int) -> None:
        if len(self.model.getbuffer()) + delta < 0:
            return
        assert self.real.seek(delta, io.SEEK_END) == self.model.seek(delta, io.SEEK_END)

    @rule(n=st.integers(-1, 5 * CS))
    def read(self, n: int) -> None:
        assert self.real.read(n) == self.model.read(n)

    @rule(n=st.integers(0, 5 * CS))
    def readinto(self, n: int) -> None:
        a, b = bytearray(n), bytearray(n)
        assert self.real.readinto(a) == self.model.readinto(b)
        assert a == b

    @rule(size=st.one_of(st.none(), st.integers(0, 12 * CS)))
    def truncate(self, size: int | None) -> None:
        assert self.real.truncate(size) == self.model.truncate(size)

    @rule()
    def flush(self) -> None:
        self.real.flush()

    @precondition(lambda self: len(self.model.getbuffer()) > 0)
    @rule()
    def read_everything_back(self) -> None:
        pos = self.model.tell()
        self.real.seek(0)
        assert self.real.read() == self.model.getvalue()
        self.real.seek(pos)

    @invariant()
    def same_position_and_size(self) -> None:
        assert self.real.tell() == self.model.tell()
        assert self.real.size == len(self.model.getbuffer())


TestScratchMatchesBytesIO = ScratchMatchesBytesIO.TestCase
TestScratchMatchesBytesIO.settings = PROPERTY


def _disk_bytes(f: EncryptedScratchFile) -> bytes:
    f.flush()
    backing = f._file  # the only place ciphertext lives
    backing.flush()
    with open(backing.fileno(), "rb", closefd=False) as raw:
        raw.seek(0)
        return raw.read()


def test_no_plaintext_reaches_the_disk() -> None:
    marker = b"GPS 19.4326N 99.1332W serial=CAM-123456 "
    f = EncryptedScratchFile(chunk_size=4096)
    for _ in range(500):
        f.write(marker)
    f.seek(10)
    f.write(marker)  # random-access rewrite
    disk = _disk_bytes(f)
    assert len(disk) >= 500 * len(marker)
    for window in (marker[:12], marker[12:24], b"CAM-123456"):
        assert window not in disk


def test_patching_a_header_after_the_fact_like_a_muxer() -> None:
    f = EncryptedScratchFile()
    f.write(b"\x00" * 8 + b"mdat")
    body = os.urandom(300_000)
    f.write(body)
    end = f.tell()
    f.seek(0)
    f.write(end.to_bytes(8, "big"))  # go back and patch the size field
    f.seek(0)
    assert f.read() == end.to_bytes(8, "big") + b"mdat" + body


def test_every_encryption_uses_a_fresh_nonce(monkeypatch: pytest.MonkeyPatch) -> None:
    f = EncryptedScratchFile(chunk_size=CS)
    seen: list[bytes] = []
    aead = f._aead

    class Recorder:
        def encrypt_into(self, nonce: bytes, *args: object) -> int:
            seen.append(bytes(nonce))
            return aead.encrypt_into(nonce, *args)

        def decrypt_into(self, *args: object) -> int:
            return aead.decrypt_into(*args)

    monkeypatch.setattr(f, "_aead", Recorder())
    for i in range(300):
        f.seek((i * 7) % (5 * CS))
        f.write(b"abc")
        f.flush()  # forces a re-encryption of the same slots again and again
    assert len(seen) >= 300
    assert len(set(seen)) == len(seen), "a nonce was reused"
    f.seek(0)
    assert len(f.read()) == f.size


def test_tampered_slot_is_detected() -> None:
    f = EncryptedScratchFile(chunk_size=CS)
    f.write(os.urandom(5 * CS))
    f.flush()
    f.seek(CS + 3)
    backing = f._file
    backing.seek(1 * (CS + TAG_LEN) + 2)
    byte = backing.read(1)
    backing.seek(1 * (CS + TAG_LEN) + 2)
    backing.write(bytes([byte[0] ^ 1]))
    backing.flush()
    f._cached = -1  # make sure the next read goes to disk
    with pytest.raises(DecryptionError):
        f.read(1)


def test_stale_slot_replay_is_detected() -> None:
    f = EncryptedScratchFile(chunk_size=CS)
    f.write(b"A" * CS)
    f.flush()
    old = _disk_bytes(f)[: CS + TAG_LEN]
    f.seek(0)
    f.write(b"B" * CS)
    f.flush()
    backing = f._file
    backing.seek(0)
    backing.write(old)  # put back the older, validly encrypted version
    backing.flush()
    f._cached = -1
    f.seek(0)
    with pytest.raises(DecryptionError):
        f.read()


def test_holes_read_as_zeros_and_use_no_disk() -> None:
    f = EncryptedScratchFile(chunk_size=CS)
    f.seek(1000 * CS)
    f.write(b"end")
    f.seek(0)
    assert f.read(5 * CS) == bytes(5 * CS)
    assert f.size == 1000 * CS + 3


def test_file_object_contract() -> None:
    f = EncryptedScratchFile()
    assert f.readable() and f.writable() and f.seekable()
    with pytest.raises(io.UnsupportedOperation):
        f.fileno()  # nobody may write plaintext past us through the fd
    with pytest.raises(ValueError):
        f.seek(-1)
    f.write(b"hello")
    f.close()
    assert f.closed and f._file.closed
    with pytest.raises(ValueError):
        f.read()


def test_buffered_wrappers_work() -> None:
    f = EncryptedScratchFile(chunk_size=CS)
    w = io.BufferedRandom(f, buffer_size=7)
    w.write(b"0123456789" * 10)
    w.seek(5)
    w.write(b"XY")
    w.seek(0)
    assert w.read() == b"01234XY789" + b"0123456789" * 9


def test_real_mp4_muxer_round_trip_through_scratch_and_stream() -> None:
    # PyAV's MP4 muxer seeks back to patch the mdat size: the use case.
    av = pytest.importorskip("av")
    image = pytest.importorskip("PIL.Image")
    import shutil

    from tipline.crypto import DecryptingReader, EncryptingWriter, new_tip_key

    scratch = EncryptedScratchFile()
    out = av.open(scratch, mode="w", format="mp4")
    stream = out.add_stream("mpeg4", rate=10)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    for i in range(20):
        frame = av.VideoFrame.from_image(image.new("RGB", (64, 48), (i * 10, 0, 0)))
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()

    key = new_tip_key()
    sink = io.BytesIO()
    scratch.seek(0)
    with EncryptingWriter(sink, tip_key=key, object_id="video") as writer:
        shutil.copyfileobj(scratch, writer)
    reader = DecryptingReader(io.BytesIO(sink.getvalue()), tip_key=key, object_id="video")
    with av.open(reader) as container:
        assert sum(1 for _ in container.decode(video=0)) == 20
