"""EncryptingWriter: a write-only file object that emits the stream format."""

from __future__ import annotations

import contextlib
import io
from types import TracebackType
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._io import BinaryStream, ByteSink
from ._util import check_key, encode_label, random_bytes
from .errors import CryptoError, DecryptionError
from .stream_format import (
    DEFAULT_CHUNK_SIZE,
    MAX_CHUNKS,
    SALT_LEN,
    TAG_LEN,
    check_chunk_size,
    chunk_nonce,
    derive_stream_key,
    make_header,
    read_header,
)

__all__ = ["EncryptingWriter"]

# A caller's immutable ``bytes`` may be held by reference (no copy) for one
# pending chunk, but only when the object is small: holding a view of a huge
# object would pin all of it in memory until the next write (the limit is
# 1 MiB at the default chunk size: the caller already holds that much).
_HOLD_BY_REFERENCE_FACTOR = 16


class EncryptingWriter(BinaryStream):
    """Encrypt everything written to it into ``sink`` in constant memory.

    Only ``sink.write`` is ever called, so the sink may be a pipe, an upload
    or an HTTP body.  The sink is never closed.  Up to one chunk of plaintext
    is held in memory, because a chunk can only be encrypted once it is known
    whether it is the final one.

    Only ``close()`` (or leaving a ``with`` block normally) writes the final
    chunk.  ``abort()``, an exception leaving the ``with`` block, and garbage
    collection of an unclosed writer all leave the stream *unfinished*, which
    every reader reports as truncated: a half-written upload can never pass
    for a complete, shorter file.

    An unfinished stream can be continued later, by another writer in another
    process: ``checkpoint()`` writes out every whole chunk held so far (the
    caller knows more plaintext follows), and ``resume()`` continues a stream
    from its header and its number of whole chunks, so that the finished blob
    is byte for byte what one writer would have written.
    """

    def __init__(
        self,
        sink: ByteSink,
        *,
        tip_key: bytes,
        object_id: str,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        self._setup(sink, tip_key, object_id, chunk_size, random_bytes(SALT_LEN))

    @classmethod
    def resume(
        cls,
        sink: ByteSink,
        *,
        tip_key: bytes,
        object_id: str,
        header: bytes,
        chunks_written: int,
        last_chunk: bytes | None = None,
    ) -> EncryptingWriter:
        """Continue an unfinished stream that holds ``header`` and ``chunks_written`` whole chunks.

        ``sink`` must already hold exactly those bytes (the caller cuts off
        whatever a broken write left after them) and is written from there on;
        the header is not written again. The key is derived again from the
        header's salt, and chunk numbering continues at ``chunks_written``.

        ``last_chunk``, the ciphertext of the stream's last whole chunk as read
        back from the sink, is decrypted here as a check (``DecryptionError`` if
        it does not open at that position under this key, object and header),
        so a wrong header, chunk count or key fails before anything is written.
        Without it, such a mistake fails when the finished stream is read.

        Each chunk index must only ever be encrypted with the same plaintext:
        a chunk written but never counted may be written again only with the
        same bytes (the same file, resent from the same offset). Different
        plaintext under the same nonce would weaken AES-GCM for this stream.
        """
        chunk_size, salt = read_header(bytes(header))
        if (
            not isinstance(chunks_written, int)
            or isinstance(chunks_written, bool)
            or not 0 <= chunks_written < MAX_CHUNKS
        ):
            raise CryptoError("chunks_written must be an int in 0 .. 2**32 - 1")
        if last_chunk is not None and chunks_written == 0:
            raise CryptoError("a stream with no whole chunk has no last chunk to check")
        writer = cls.__new__(cls)
        writer._setup(sink, tip_key, object_id, chunk_size, salt, write_header=False)
        writer._index = chunks_written
        writer._size = chunks_written * chunk_size
        if last_chunk is not None:
            try:
                writer._check_chunk(chunks_written - 1, last_chunk)
            except BaseException:
                writer.abort()
                raise
        return writer

    def _setup(
        self,
        sink: ByteSink,
        tip_key: bytes,
        object_id: str,
        chunk_size: int,
        salt: bytes,
        *,
        write_header: bool = True,
    ) -> None:
        # Validate before touching the sink so a bad argument writes nothing.
        key = check_key(tip_key, "tip_key")
        oid = encode_label(object_id, "object_id")
        self._chunk_size = check_chunk_size(chunk_size)
        super().__init__()
        self._sink = sink
        self._header = make_header(self._chunk_size, salt)
        aes_key, self._nonce_prefix = derive_stream_key(key, salt, oid)
        self._aead = AESGCM(aes_key)
        self._buf = bytearray(self._chunk_size)
        self._buf_len = 0
        self._held: memoryview | None = None  # one full chunk of caller bytes
        self._index = 0
        self._size = 0
        self._finished = False
        if write_header:
            self._write_all(self._header)

    # -- io.RawIOBase interface ------------------------------------------------

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def readinto(self, b: Any) -> int:
        raise io.UnsupportedOperation("EncryptingWriter is write-only")

    def tell(self) -> int:
        # The position is well defined even without seeking; zipfile and
        # image encoders ask for it when writing to a non-seekable stream.
        self._check_open()
        return self._size

    def write(self, b: Any) -> int:
        self._check_open()
        kind = type(b)
        if kind is bytes or kind is bytearray:
            n = len(b)
            if self._held is None and self._buf_len + n < self._chunk_size:
                # Fast path for a small write that fits in the pending buffer
                # without filling it: one copy, no loop, no memoryview.
                self._buf[self._buf_len : self._buf_len + n] = b
                self._buf_len += n
                self._size += n
                return n
            if kind is bytes and n == self._chunk_size and self._buf_len == 0:
                # Fast path for chunk-sized writes (Django's upload handler
                # and shutil both hand over 64 KiB): send the held chunk, now
                # known not to be the last, and hold this one without a copy
                # (bytes are immutable, so keeping a reference is safe).
                if self._held is not None:
                    self._emit(self._held, final=False)
                self._held = memoryview(b)
                self._size += n
                return n
        view = memoryview(b).cast("B")
        n = len(view)
        may_hold = isinstance(b, bytes) and n <= _HOLD_BY_REFERENCE_FACTOR * self._chunk_size
        pos = 0
        while pos < n:
            pos = self._consume(view, pos, may_hold)
        self._size += n
        return n

    def close(self) -> None:
        """Write the final chunk and mark the stream complete."""
        if self.closed:
            return
        try:
            if not self._finished:
                self._finish()
        finally:
            self._release()
            super().close()

    def abort(self) -> None:
        """Drop the stream without writing its final chunk (it stays invalid)."""
        if self.closed:
            return
        self._release()
        super().close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()

    def __del__(self) -> None:
        # io.IOBase's finaliser would call close() and so *finalise* a stream
        # that was abandoned half-way (an exception outside a with block):
        # abort instead, so the partial blob stays detectably truncated.
        with contextlib.suppress(Exception):  # never raise from a finaliser
            self.abort()

    @property
    def plaintext_size(self) -> int:
        """Plaintext bytes accepted so far."""
        return self._size

    @property
    def chunks_written(self) -> int:
        """Chunks handed to the sink so far (the final one included once closed)."""
        return self._index

    def checkpoint(self) -> int:
        """Write out every whole chunk held so far; return ``chunks_written``.

        The caller declares that more plaintext follows, so the chunk held back
        in case it was the last is written as an ordinary chunk. A partial
        chunk stays pending (it is lost if the writer is then aborted: a
        resumed write sends it again). A stream must then get at least one
        more byte before ``close()``: closing right after a checkpoint raises
        ``CryptoError`` and leaves the stream unfinished, since an empty final
        chunk after full ones is not a valid encoding.
        """
        self._check_open()
        if self._held is not None:
            held, self._held = self._held, None
            self._emit(held, final=False)
        if self._buf_len == self._chunk_size:
            self._emit(memoryview(self._buf), final=False)
            self._buf_len = 0
        return self._index

    # -- internals ---------------------------------------------------------

    def _consume(self, view: memoryview, pos: int, may_hold: bool) -> int:
        """Take some of ``view[pos:]``; return the new position.

        Invariant on return: whatever is pending (buffer or held view) is
        at most one chunk, and a chunk is only encrypted once more data is
        known to follow it, so it is certainly not the final one.
        """
        cs = self._chunk_size
        remaining = len(view) - pos
        if self._held is not None:
            self._emit(self._held, final=False)
            self._held = None
        if self._buf_len == cs:
            self._emit(memoryview(self._buf), final=False)
            self._buf_len = 0
        if self._buf_len == 0 and remaining >= cs:
            piece = view[pos : pos + cs]
            if remaining > cs:
                self._emit(piece, final=False)  # zero-copy fast path
            elif may_hold:
                self._held = piece  # immutable: safe to keep without copying
            else:
                self._buf[:cs] = piece
                self._buf_len = cs
            return pos + cs
        take = min(cs - self._buf_len, remaining)
        self._buf[self._buf_len : self._buf_len + take] = view[pos : pos + take]
        self._buf_len += take
        return pos + take

    def _emit(self, plaintext: memoryview, *, final: bool) -> None:
        if self._index >= MAX_CHUNKS:
            raise CryptoError("stream too long for a 32-bit chunk counter")
        nonce = chunk_nonce(self._nonce_prefix, self._index, final)
        try:
            self._write_all(self._aead.encrypt(nonce, plaintext, self._header))
        except BaseException:
            # Part of a chunk may have reached the sink: the stream can never
            # be completed correctly, so refuse any further use of it.
            self.abort()
            raise
        self._index += 1

    def _finish(self) -> None:
        if self._held is not None:
            last = self._held
        else:
            last = memoryview(self._buf)[: self._buf_len]
        if not len(last) and self._index:
            # Only a checkpoint or a resume can get here: an empty final chunk
            # after full ones would make a stream no reader accepts.
            raise CryptoError("a resumed or checkpointed stream needs more plaintext to finish")
        self._emit(last, final=True)
        self._finished = True

    def _check_chunk(self, index: int, ciphertext: bytes) -> None:
        if len(ciphertext) != self._chunk_size + TAG_LEN:
            raise DecryptionError("the last whole chunk of the stream has the wrong length")
        nonce = chunk_nonce(self._nonce_prefix, index, False)
        # Into the (still empty) chunk buffer, wiped at once: only the check is wanted.
        try:
            self._aead.decrypt_into(nonce, bytes(ciphertext), self._header, self._buf)
        except InvalidTag:
            raise DecryptionError(
                f"chunk {index} does not open where the stream is resumed "
                "(wrong header, chunk count, key or object_id)"
            ) from None
        finally:
            self._buf[:] = bytes(len(self._buf))

    def _write_all(self, data: bytes) -> None:
        # Raw streams may accept fewer bytes than offered; many duck-typed
        # sinks (hash objects, upload parts) return None for "all of it".
        written = self._sink.write(data)
        if written is None or written == len(data):
            return
        view = memoryview(data)
        while written < len(view):
            if written <= 0:
                raise CryptoError("sink refused to accept ciphertext")
            view = view[written:]
            written = self._sink.write(view)
            if written is None:
                return

    def _release(self) -> None:
        self._held = None
        if hasattr(self, "_buf"):
            # Best effort: Python gives no guarantee, but do not leave the
            # last chunk of plaintext lying in a live buffer.
            self._buf[:] = bytes(len(self._buf))
            self._buf_len = 0

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed EncryptingWriter")


def _writer_with_salt(
    sink: ByteSink, *, tip_key: bytes, object_id: str, chunk_size: int, salt: bytes
) -> EncryptingWriter:
    """Build a writer with a fixed salt: for known-answer vectors ONLY.

    A fixed salt with the same tip key and object_id reuses key and nonces;
    never call this outside tests/crypto/make_vectors.py and its tests.
    """
    writer = EncryptingWriter.__new__(EncryptingWriter)
    writer._setup(sink, tip_key, object_id, chunk_size, salt)
    return writer
