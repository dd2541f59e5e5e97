"""One-shot helpers over the stream format, for small objects.

Notes, links and reports use exactly the same format as files, so there is
one decoder to audit and a note could be streamed if it ever grew large.
"""

from __future__ import annotations

import io

from ._util import check_key
from .errors import CryptoError
from .stream_format import DEFAULT_CHUNK_SIZE
from .stream_reader import DecryptingReader
from .stream_writer import EncryptingWriter, _writer_with_salt

__all__ = ["encrypt_bytes", "decrypt_bytes", "EncryptingWriter", "DecryptingReader"]


def encrypt_bytes(data: bytes, *, tip_key: bytes, object_id: str) -> bytes:
    """Encrypt ``data`` as a complete stream bound to ``object_id``."""
    sink = io.BytesIO()
    with EncryptingWriter(sink, tip_key=tip_key, object_id=object_id) as writer:
        writer.write(_as_buffer(data))
    return sink.getvalue()


def decrypt_bytes(blob: bytes, *, tip_key: bytes, object_id: str) -> bytes:
    """Decrypt a complete stream; DecryptionError if anything is wrong."""
    check_key(tip_key, "tip_key")
    with DecryptingReader(io.BytesIO(_as_buffer(blob)), tip_key=tip_key, object_id=object_id) as r:
        return r.readall()


def _encrypt_bytes_with_salt(
    data: bytes,
    *,
    tip_key: bytes,
    object_id: str,
    salt: bytes,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> bytes:
    """encrypt_bytes with a fixed salt: for known-answer vectors ONLY."""
    sink = io.BytesIO()
    writer = _writer_with_salt(
        sink, tip_key=tip_key, object_id=object_id, chunk_size=chunk_size, salt=salt
    )
    with writer:
        writer.write(data)
    return sink.getvalue()


def _as_buffer(data: object) -> bytes | bytearray | memoryview:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CryptoError(f"expected bytes, not {type(data).__name__}")
    return data
