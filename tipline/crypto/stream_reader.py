"""DecryptingReader: a seekable, read-only file object over a stored stream."""

from __future__ import annotations

import io
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._util import check_key, encode_label
from .errors import DecryptionError
from .stream_format import (
    HEADER_LEN,
    TAG_LEN,
    StreamLayout,
    chunk_nonce,
    derive_stream_key,
    parse_header,
)

__all__ = ["DecryptingReader"]


class DecryptingReader(io.RawIOBase):
    """Decrypt a stream on demand, as an ordinary seekable binary file.

    ``source`` must be seekable and hold exactly one stream starting at offset
    0; it is not closed by ``close()``.  Construction checks the header and
    decrypts the final chunk, so a wrong key, a wrong object_id, a foreign
    header or a truncated blob fail right away and ``size`` is authenticated.
    Afterwards each read decrypts only the chunks it touches (one chunk is
    cached).  After any authentication failure the reader refuses all
    further reads: nothing from a damaged blob is served.
    """

    def __init__(self, source: BinaryIO, *, tip_key: bytes, object_id: str) -> None:
        key = check_key(tip_key, "tip_key")
        oid = encode_label(object_id, "object_id")
        super().__init__()
        self._source = source
        self._failed = False
        total_len = source.seek(0, io.SEEK_END)
        if total_len is None:  # some storage wrappers' seek() returns None
            total_len = source.tell()
        source.seek(0)
        header = bytearray(HEADER_LEN)
        got = _readinto_fully(source, memoryview(header))
        self._layout: StreamLayout = parse_header(bytes(header[:got]), total_len)
        cs = self._layout.chunk_size
        aes_key, self._nonce_prefix = derive_stream_key(key, self._layout.salt, oid)
        self._aead = AESGCM(aes_key)
        self._ct = bytearray(cs + TAG_LEN)
        self._pt = bytearray(cs)
        self._cached = -1  # index of the chunk whose plaintext is in _pt
        self._pos = 0
        self._load(self._layout.n_chunks - 1)

    # -- io.RawIOBase interface ------------------------------------------------

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def write(self, b: Any) -> int:
        raise io.UnsupportedOperation("DecryptingReader is read-only")

    @property
    def size(self) -> int:
        """Plaintext size in bytes (authenticated at construction)."""
        return self._layout.size

    def tell(self) -> int:
        self._check_usable()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_usable()
        if whence == io.SEEK_SET:
            new = offset
        elif whence == io.SEEK_CUR:
            new = self._pos + offset
        elif whence == io.SEEK_END:
            new = self._layout.size + offset
        else:
            raise ValueError(f"invalid whence ({whence!r})")
        if new < 0:
            raise ValueError(f"negative seek position {new}")
        self._pos = new
        return new

    def readinto(self, b: Any) -> int:
        self._check_usable()
        out = memoryview(b).cast("B")
        want = len(out)
        layout = self._layout
        cs = layout.chunk_size
        done = 0
        while done < want and self._pos < layout.size:
            index, offset = divmod(self._pos, cs)
            chunk_len = layout.chunk_plaintext_len(index)
            take = min(chunk_len - offset, want - done)
            if offset == 0 and take == chunk_len and index != self._cached:
                # Whole chunk wanted: decrypt straight into the caller's buffer.
                self._decrypt_into(index, out[done : done + take])
            else:
                self._load(index)
                out[done : done + take] = self._pt_view(offset, take)
            done += take
            self._pos += take
        return done

    def read(self, size: int | None = -1) -> bytes:
        self._check_usable()
        if size is None or size < 0:
            return self.readall()
        size = min(size, max(0, self._layout.size - self._pos))
        index, offset = divmod(self._pos, self._layout.chunk_size)
        chunk_len = self._layout.chunk_plaintext_len(index) if size else 0
        if size and offset + size <= chunk_len:
            # Within one chunk: one copy (or none for a whole, uncached chunk).
            if offset == 0 and size == chunk_len and index != self._cached:
                data = self._decrypt(index, None)
            else:
                self._load(index)
                data = bytes(self._pt_view(offset, size))
            self._pos += size
            return data
        buf = bytearray(size)
        n = self.readinto(buf)
        return bytes(buf) if n == size else bytes(buf[:n])

    def readall(self) -> bytes:
        self._check_usable()
        return self.read(max(0, self._layout.size - self._pos))

    def verify(self) -> None:
        """Decrypt every chunk (without returning data); raise on any problem."""
        self._check_usable()
        for index in range(self._layout.n_chunks):
            self._load(index, force=True)

    def close(self) -> None:
        if not self.closed and hasattr(self, "_pt"):
            self._wipe_cache()
        super().close()

    # -- internals ---------------------------------------------------------

    def _pt_view(self, offset: int, length: int) -> memoryview:
        return memoryview(self._pt)[offset : offset + length]

    def _load(self, index: int, *, force: bool = False) -> None:
        """Make chunk ``index`` the cached plaintext chunk."""
        if index == self._cached and not force:
            return
        self._cached = -1
        length = self._layout.chunk_plaintext_len(index)
        self._decrypt_into(index, memoryview(self._pt)[:length])
        self._cached = index

    def _decrypt_into(self, index: int, dest: memoryview) -> None:
        self._decrypt(index, dest)

    def _decrypt(self, index: int, dest: memoryview | None) -> bytes:
        """Decrypt chunk ``index`` into ``dest``, or into new bytes if None."""
        layout = self._layout
        length = layout.chunk_plaintext_len(index)
        ct = memoryview(self._ct)[: length + TAG_LEN]
        self._read_ciphertext(layout.chunk_offset(index), ct)
        nonce = chunk_nonce(self._nonce_prefix, index, index == layout.n_chunks - 1)
        try:
            if dest is None:
                return self._aead.decrypt(nonce, ct, layout.header)
            self._aead.decrypt_into(nonce, ct, layout.header, dest)
            return b""
        except InvalidTag:
            if dest is not None:
                # decrypt_into has already written unauthenticated plaintext
                # into dest: wipe it before anyone can look at it.
                dest[:] = bytes(len(dest))
            self._fail()
            raise DecryptionError(
                f"chunk {index} of the encrypted stream failed authentication "
                "(wrong key or object_id, or tampered or truncated data)"
            ) from None

    def _read_ciphertext(self, offset: int, into: memoryview) -> None:
        # Always seek: another reader (or zipfile, or the caller) may share
        # the source and move its position between our reads.
        self._source.seek(offset)
        got = _readinto_fully(self._source, into)
        if got < len(into):
            # The source shrank after we measured it: treat as truncation.
            self._fail()
            raise DecryptionError("encrypted stream is truncated")

    def _fail(self) -> None:
        self._failed = True
        self._wipe_cache()

    def _wipe_cache(self) -> None:
        self._cached = -1
        self._pt[:] = bytes(len(self._pt))

    def _check_usable(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed DecryptingReader")
        if self._failed:
            raise DecryptionError("encrypted stream failed authentication earlier")


def _readinto_fully(source: BinaryIO, into: memoryview) -> int:
    """Fill ``into`` from ``source`` unless EOF comes first; return bytes read."""
    readinto = getattr(source, "readinto", None)
    got = 0
    while got < len(into):
        if readinto is not None:
            n = readinto(into[got:]) or 0
        else:  # duck-typed sources with only read()
            data = source.read(len(into) - got)
            n = len(data)
            into[got : got + n] = data
        if n == 0:
            break
        got += n
    return got
