"""EncryptedScratchFile: a seekable read-write temp file that stores only ciphertext.

Sanitizers and muxers sometimes need a seekable output (an MP4 muxer seeks back
to patch the ``moov`` sizes).  A plain temp file would put plaintext on disk;
this one encrypts each fixed-size chunk under a random key that exists only in
this object's memory, so the temp file is unreadable the moment the process
is gone (or the disk is imaged while it runs).

Layout (never read by anything but this object)::

    slot i at offset i * (chunk_size + 16) = AES-256-GCM(K, nonce_i, chunk_i, aad = u64 i)

* every slot holds a full ``chunk_size`` of plaintext (bytes past the logical
  end are zero), so slots never move; the logical size lives in memory;
* nonce_i is a 96-bit big-endian counter that increases on every encryption
  and is never reused for the life of the object; the nonce a slot was last
  written with is kept in memory, so a stale or swapped slot fails to decrypt;
* a slot whose recorded nonce is 0 was never written and reads as zeros, which
  gives the same hole semantics as a real file or io.BytesIO.

One decrypted chunk is cached (and written back when another chunk is needed
or on ``flush()``), so many small writes cost one encryption per chunk.
"""

from __future__ import annotations

import io
import struct
import tempfile
from array import array
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._io import BinaryStream
from ._util import KEY_SIZE, random_bytes
from .errors import DecryptionError
from .stream_format import DEFAULT_CHUNK_SIZE, TAG_LEN, check_chunk_size

__all__ = ["EncryptedScratchFile"]

_INDEX = struct.Struct(">Q")


class EncryptedScratchFile(BinaryStream):
    """A ``BytesIO``-like read/write/seek file whose backing store is encrypted."""

    def __init__(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self._cs = check_chunk_size(chunk_size)
        super().__init__()
        self._file = tempfile.TemporaryFile()
        self._aead = AESGCM(random_bytes(KEY_SIZE))  # the key is never stored
        self._counter = 0
        self._nonces = array("Q")  # per slot: counter last used, 0 = never written
        self._size = 0
        self._pos = 0
        self._cache = bytearray(self._cs)
        self._ct = bytearray(self._cs + TAG_LEN)
        self._cached = -1
        self._dirty = False

    # -- io interface ----------------------------------------------------------

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    @property
    def size(self) -> int:
        """Logical size in bytes."""
        return self._size

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence ({whence!r})")
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def readinto(self, b: Any) -> int:
        self._check_open()
        out = memoryview(b).cast("B")
        done = 0
        while done < len(out) and self._pos < self._size:
            index, offset = divmod(self._pos, self._cs)
            take = min(self._cs - offset, len(out) - done, self._size - self._pos)
            self._load(index, keep_contents=True)
            out[done : done + take] = memoryview(self._cache)[offset : offset + take]
            done += take
            self._pos += take
        return done

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        remaining = max(0, self._size - self._pos)
        size = remaining if size is None or size < 0 else min(size, remaining)
        buf = bytearray(size)
        n = self.readinto(buf)
        return bytes(buf[:n])

    def readall(self) -> bytes:
        return self.read(-1)

    def write(self, b: Any) -> int:
        self._check_open()
        data = memoryview(b).cast("B")
        done = 0
        while done < len(data):
            index, offset = divmod(self._pos, self._cs)
            take = min(self._cs - offset, len(data) - done)
            # A write that covers the whole chunk need not decrypt it first.
            self._load(index, keep_contents=take < self._cs)
            self._cache[offset : offset + take] = data[done : done + take]
            self._dirty = True
            done += take
            self._pos += take
            self._size = max(self._size, self._pos)
        return done

    def truncate(self, size: int | None = None) -> int:
        """Shrink to ``size`` (default: the position); like BytesIO, never grows."""
        self._check_open()
        size = self._pos if size is None else size
        if size < 0:
            raise ValueError(f"negative size value {size}")
        if size >= self._size:
            return size
        keep = -(-size // self._cs)  # chunks that still hold data
        if size % self._cs:
            # Zero the tail of the new last chunk so a later extension reads
            # zeros there, as it would from a real file.
            index, offset = divmod(size, self._cs)
            self._load(index, keep_contents=True)
            self._cache[offset:] = bytes(self._cs - offset)
            self._dirty = True
        if self._cached >= keep:
            self._cached, self._dirty = -1, False
        del self._nonces[keep:]  # dropped slots become holes again
        self._size = size
        self._file.truncate(keep * (self._cs + TAG_LEN))
        return size

    def flush(self) -> None:
        """Encrypt the cached chunk back to disk (nothing else is buffered)."""
        self._check_open()
        self._store_cache()

    def close(self) -> None:
        if self.closed:
            return
        try:
            # Nothing is flushed: the key dies with this object, so the
            # ciphertext would be unreadable anyway.
            self._cache[:] = bytes(self._cs)
            self._cached, self._dirty = -1, False
            self._file.close()
        finally:
            super().close()

    # -- internals ---------------------------------------------------------

    def _load(self, index: int, *, keep_contents: bool) -> None:
        """Make chunk ``index`` the cached chunk, writing back the old one."""
        if index == self._cached:
            return
        self._store_cache()
        if keep_contents and index < len(self._nonces) and self._nonces[index]:
            self._decrypt_slot(index)
        elif keep_contents:
            self._cache[:] = bytes(self._cs)  # a hole reads as zeros
        self._cached = index

    def _store_cache(self) -> None:
        if self._cached < 0 or not self._dirty:
            return
        index = self._cached
        self._counter += 1  # fresh nonce for every encryption, never reused
        nonce = self._counter.to_bytes(12, "big")
        n = self._aead.encrypt_into(nonce, self._cache, _INDEX.pack(index), self._ct)
        self._file.seek(index * (self._cs + TAG_LEN))
        self._file.write(memoryview(self._ct)[:n])
        if len(self._nonces) <= index:
            self._nonces.extend([0] * (index + 1 - len(self._nonces)))
        self._nonces[index] = self._counter
        self._dirty = False

    def _decrypt_slot(self, index: int) -> None:
        self._file.seek(index * (self._cs + TAG_LEN))
        got = self._file.readinto(self._ct)
        nonce = self._nonces[index].to_bytes(12, "big")
        try:
            if got != len(self._ct):
                raise InvalidTag
            self._aead.decrypt_into(nonce, self._ct, _INDEX.pack(index), self._cache)
        except InvalidTag:
            self._cache[:] = bytes(self._cs)
            self._cached = -1
            raise DecryptionError(f"scratch chunk {index} failed authentication") from None

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed EncryptedScratchFile")
