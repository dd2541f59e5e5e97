"""DecryptingReader: a seekable, read-only file object over a stored stream."""

from __future__ import annotations

import io
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._io import BinaryStream, SeekableSource
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


class DecryptingReader(BinaryStream):
    """Decrypt a stream on demand, as an ordinary seekable binary file.

    ``source`` must be seekable and hold exactly one stream starting at offset
    0; it is not closed by ``close()``.  Construction checks the header and
    decrypts the final chunk, so a wrong key, a wrong object_id, a foreign
    header or a truncated blob fail right away and ``size`` is authenticated.
    Afterwards each read decrypts only the chunks it touches (one chunk is
    cached).  After any authentication failure the reader refuses all
    further reads: nothing from a damaged blob is served.

    Ciphertext is copied into a private buffer before it is decrypted, so
    what is authenticated is exactly what is decrypted even if the source
    changes meanwhile.  The one exception is an ``io.BytesIO`` source, read
    in place from its immutable bytes (see ``_immutable_contents``).
    """

    def __init__(self, source: SeekableSource, *, tip_key: bytes, object_id: str) -> None:
        key = check_key(tip_key, "tip_key")
        oid = encode_label(object_id, "object_id")
        super().__init__()
        self._source = source
        self._failed = False
        self._in_place = _immutable_contents(source)
        total_len = source.seek(0, io.SEEK_END)
        if total_len is None:  # some storage wrappers' seek() returns None
            total_len = source.tell()
        source.seek(0)
        header = bytearray(HEADER_LEN)
        got = _readinto_fully(source, memoryview(header))
        layout = parse_header(bytes(header[:got]), total_len)
        self._layout: StreamLayout = layout
        # Plain int copies of the layout for the per-chunk path: a 64 KiB
        # chunk decrypts in about 10 us, so each method call or property
        # there costs a visible share of the throughput (bench/crypto.py).
        self._cs = layout.chunk_size
        self._size = layout.size
        self._last = layout.n_chunks - 1
        aes_key, self._nonce_prefix = derive_stream_key(key, layout.salt, oid)
        self._aead = AESGCM(aes_key)
        self._ct = memoryview(bytearray(self._cs + TAG_LEN))
        self._pt = bytearray(self._cs)
        self._pt_view = memoryview(self._pt)
        self._cached = -1  # index of the chunk whose plaintext is in _pt
        self._pos = 0
        self._load(self._last)

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
        return self._size

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
            new = self._size + offset
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
        cs, size = self._cs, self._size
        done = 0
        while done < want and self._pos < size:
            index, offset = divmod(self._pos, cs)
            chunk_len = self._chunk_len(index)
            take = min(chunk_len - offset, want - done)
            if take == chunk_len and index != self._cached:
                # Whole chunk wanted (so offset is 0): decrypt straight into
                # the caller's buffer, no staging copy.
                self._decrypt_into(index, out[done : done + take])
            else:
                self._load(index)
                out[done : done + take] = self._pt_view[offset : offset + take]
            done += take
            self._pos += take
        return done

    def read(self, size: int | None = -1) -> bytes:
        self._check_usable()
        if size is None or size < 0:
            return self.readall()
        size = min(size, max(0, self._size - self._pos))
        index, offset = divmod(self._pos, self._cs)
        chunk_len = self._chunk_len(index) if size else 0
        if size and offset + size <= chunk_len:
            # Within one chunk: one copy (or none for a whole, uncached chunk).
            if size == chunk_len and index != self._cached:
                data = self._decrypt_to_bytes(index)
            else:
                self._load(index)
                data = bytes(self._pt_view[offset : offset + size])
            self._pos += size
            return data
        buf = bytearray(size)
        n = self.readinto(buf)
        return bytes(buf) if n == size else bytes(buf[:n])

    def readall(self) -> bytes:
        self._check_usable()
        return self.read(max(0, self._size - self._pos))

    def verify(self) -> None:
        """Decrypt every chunk (without returning data); raise on any problem."""
        self._check_usable()
        for index in range(self._last + 1):
            self._load(index, force=True)

    def close(self) -> None:
        if not self.closed and hasattr(self, "_pt"):
            self._wipe_cache()
            self._in_place = None  # do not keep the caller's bytes alive
        super().close()

    # -- internals ---------------------------------------------------------

    def _chunk_len(self, index: int) -> int:
        # StreamLayout.chunk_plaintext_len on the hot-path copies (__init__).
        return self._cs if index < self._last else self._size - index * self._cs

    def _load(self, index: int, *, force: bool = False) -> None:
        """Make chunk ``index`` the cached plaintext chunk."""
        if index == self._cached and not force:
            return
        self._cached = -1
        self._decrypt_into(index, self._pt_view[: self._chunk_len(index)])
        self._cached = index

    def _decrypt_into(self, index: int, dest: memoryview) -> None:
        """Decrypt chunk ``index`` into ``dest`` (exactly its plaintext size)."""
        ct = self._ciphertext(index, len(dest))
        nonce = chunk_nonce(self._nonce_prefix, index, index == self._last)
        try:
            self._aead.decrypt_into(nonce, ct, self._layout.header, dest)
        except InvalidTag:
            # decrypt_into has already written unauthenticated plaintext
            # into dest: wipe it before anyone can look at it.
            dest[:] = bytes(len(dest))
            raise self._auth_failure(index) from None

    def _decrypt_to_bytes(self, index: int) -> bytes:
        """Decrypt chunk ``index`` into new bytes (saves a copy in read())."""
        ct = self._ciphertext(index, self._chunk_len(index))
        nonce = chunk_nonce(self._nonce_prefix, index, index == self._last)
        try:
            return self._aead.decrypt(nonce, ct, self._layout.header)
        except InvalidTag:
            raise self._auth_failure(index) from None

    def _ciphertext(self, index: int, length: int) -> memoryview:
        """Chunk ``index``'s ciphertext and tag (``length`` plaintext bytes)."""
        start = HEADER_LEN + index * (self._cs + TAG_LEN)
        end = start + length + TAG_LEN
        in_place = self._in_place
        if in_place is not None:
            # Still the very bytes object the BytesIO holds? Any write or
            # truncate replaces it; from then on read it like any file.
            if in_place.bytesio.getvalue() is in_place.contents and end <= len(in_place.contents):
                return in_place.view[start:end]
            self._in_place = None
        into = self._ct[: end - start]
        # Always seek: another reader (or zipfile, or the caller) may share
        # the source and move its position between our reads.
        self._source.seek(start)
        if _readinto_fully(self._source, into) < len(into):
            # The source shrank after we measured it: treat as truncation.
            self._fail()
            raise DecryptionError("encrypted stream is truncated")
        return into

    def _auth_failure(self, index: int) -> DecryptionError:
        self._fail()
        return DecryptionError(
            f"chunk {index} of the encrypted stream failed authentication "
            "(wrong key or object_id, or tampered or truncated data)"
        )

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


class _InPlace(NamedTuple):
    bytesio: io.BytesIO
    contents: bytes  # what bytesio.getvalue() returned, without a copy
    view: memoryview  # of contents


def _immutable_contents(source: object) -> _InPlace | None:
    """A view of the bytes a BytesIO source holds, if it may be read in place.

    Decrypting in place skips a copy per chunk (measured: 5-10% of the
    throughput for 64 KiB reads of 64 KiB chunks, 25% for 1 MiB reads).
    That is only safe on immutable memory: decrypt_into releases the GIL and
    nothing promises that OpenSSL reads each ciphertext byte only once, so a
    buffer changed meanwhile (another thread, an mmap of a file being
    rewritten) could yield plaintext of ciphertext never authenticated.
    ``BytesIO.getvalue()`` returns the BytesIO's own immutable bytes without
    a copy (CPython, while nobody holds ``getbuffer()``); two calls
    returning the same object show that it does.  Subclasses may override
    how reading works, so only the exact type qualifies.
    """
    if type(source) is not io.BytesIO:
        return None
    contents = source.getvalue()
    if source.getvalue() is not contents:
        return None  # getvalue() copies here: the copying path is cheaper
    return _InPlace(source, contents, memoryview(contents))


def _readinto_fully(source: SeekableSource, into: memoryview) -> int:
    """Fill ``into`` from ``source`` unless EOF comes first; return bytes read."""
    readinto = getattr(source, "readinto", None)
    if readinto is not None:
        # Files and BytesIO fill it in one call: skip the loop's slicing.
        got = readinto(into) or 0
        if got in (0, len(into)):
            return got
    else:
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
