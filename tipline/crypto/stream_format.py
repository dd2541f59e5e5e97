"""The chunked AEAD stream format shared by EncryptingWriter and DecryptingReader.

Format v1 (integers big-endian; see docs/crypto.md for the rationale)::

    header (41 bytes) = "TLST" || 0x01 || u32 chunk_size || salt (32 random bytes)
    K || P            = HKDF-SHA256(ikm=tip_key, salt=salt,
                                    info=lp("tipline/stream") || 0x01 || lp(utf8(object_id)),
                                    length=32 + 7)
    chunk i           = AES-256-GCM(K, nonce_i, plaintext_i, aad=header)
                        (ciphertext || 16-byte tag)
    nonce_i           = P (7) || u32 i || flag (0x01 on the final chunk, else 0x00)

Every chunk but the last holds exactly ``chunk_size`` plaintext bytes; the last
holds 1..chunk_size bytes, or 0 bytes only when the whole plaintext is empty.
That makes the encoding canonical: the ciphertext length alone determines the
number of chunks, which one is final and the plaintext size.

Why each piece is there:

* the random salt gives every write its own key, so writing the same object_id
  twice (a re-sanitized file) never reuses a key+nonce pair;
* object_id in the HKDF info binds the blob to its object: a blob or a chunk
  moved to another object fails authentication;
* the counter in the nonce fixes each chunk's position (no reorder, swap or
  duplication), the final flag makes truncation at a chunk boundary fail;
* the header is the associated data of every chunk, so changing the version
  byte or the chunk size is detected by the first chunk read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ._util import KEY_SIZE, lp
from .errors import CryptoError, DecryptionError

MAGIC = b"TLST"
STREAM_FORMAT_V1 = 0x01
SALT_LEN = 32
NONCE_PREFIX_LEN = 7
TAG_LEN = 16
_HEADER = struct.Struct(">4sBI32s")
HEADER_LEN = _HEADER.size  # 41
_NONCE_TAIL = struct.Struct(">IB")
_LABEL = b"tipline/stream"

# 64 KiB: see docs/crypto.md ("Choosing the chunk size") for the measurements.
DEFAULT_CHUNK_SIZE = 64 * 1024
# The small minimum exists for exhaustive tests; the maximum bounds how much a
# reader allocates on the word of a header that is not yet authenticated.
MIN_CHUNK_SIZE = 16
MAX_CHUNK_SIZE = 16 * 1024 * 1024
# The chunk counter is 32 bits; with 64 KiB chunks that is 256 TiB per object.
MAX_CHUNKS = 2**32


def check_chunk_size(chunk_size: object) -> int:
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool):
        raise CryptoError("chunk_size must be an int")
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise CryptoError(f"chunk_size must be {MIN_CHUNK_SIZE}..{MAX_CHUNK_SIZE} bytes")
    return chunk_size


def make_header(chunk_size: int, salt: bytes) -> bytes:
    if len(salt) != SALT_LEN:
        raise CryptoError(f"salt must be {SALT_LEN} bytes")
    return _HEADER.pack(MAGIC, STREAM_FORMAT_V1, chunk_size, salt)


def stream_prefix_length(chunk_size: int, chunks: int) -> int:
    """Bytes of a stream that holds its header and ``chunks`` whole, non-final chunks.

    Where a resumed write continues: an unfinished stream cut anywhere is
    brought back to this length before ``EncryptingWriter.resume``.
    """
    check_chunk_size(chunk_size)
    if not isinstance(chunks, int) or isinstance(chunks, bool) or not 0 <= chunks < MAX_CHUNKS:
        raise CryptoError("chunks must be an int in 0 .. 2**32 - 1")
    return HEADER_LEN + chunks * (chunk_size + TAG_LEN)


def read_header(header: bytes) -> tuple[int, bytes]:
    """(chunk_size, salt) of a stream header, checked for structure only.

    Used to resume a write: nothing here is authenticated (the header is the
    associated data of every chunk, so a changed one fails on reading, or at
    once when the resumed writer is given the last chunk to check).
    """
    if len(header) != HEADER_LEN:
        raise DecryptionError("an encrypted stream header is exactly 41 bytes")
    magic, version, chunk_size, salt = _HEADER.unpack(header)
    if magic != MAGIC or version != STREAM_FORMAT_V1:
        raise DecryptionError("not a version 1 encrypted tipline stream header")
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise DecryptionError("encrypted stream header has an invalid chunk size")
    return chunk_size, salt


def derive_stream_key(tip_key: bytes, salt: bytes, object_id: bytes) -> tuple[bytes, bytes]:
    """Return (AES key, 7-byte nonce prefix) for one object and one write."""
    info = lp(_LABEL) + bytes([STREAM_FORMAT_V1]) + lp(object_id)
    okm = HKDF(
        algorithm=hashes.SHA256(), length=KEY_SIZE + NONCE_PREFIX_LEN, salt=salt, info=info
    ).derive(tip_key)
    return okm[:KEY_SIZE], okm[KEY_SIZE:]


def chunk_nonce(prefix: bytes, index: int, final: bool) -> bytes:
    return prefix + _NONCE_TAIL.pack(index, 1 if final else 0)


@dataclass(frozen=True)
class StreamLayout:
    """Where each chunk of a stored stream lives, derived from its length."""

    header: bytes
    chunk_size: int
    n_chunks: int
    size: int  # plaintext bytes

    @property
    def salt(self) -> bytes:
        return self.header[HEADER_LEN - SALT_LEN :]

    def chunk_offset(self, index: int) -> int:
        return HEADER_LEN + index * (self.chunk_size + TAG_LEN)

    def chunk_plaintext_len(self, index: int) -> int:
        if index < self.n_chunks - 1:
            return self.chunk_size
        return self.size - index * self.chunk_size


def parse_header(header: bytes, total_len: int) -> StreamLayout:
    """Check the header's structure and compute the layout of a stream.

    Nothing here is authenticated yet: the caller must decrypt a chunk (the
    reader decrypts the final one at once) before trusting any of it.  Every
    failure is a DecryptionError because, to the caller, an unknown version
    or a cut file is simply ciphertext that does not open.
    """
    if len(header) < HEADER_LEN or total_len < HEADER_LEN:
        raise DecryptionError("encrypted stream is truncated (no complete header)")
    magic, version, chunk_size, _salt = _HEADER.unpack_from(header)
    if magic != MAGIC:
        raise DecryptionError("not an encrypted tipline stream (bad magic)")
    if version != STREAM_FORMAT_V1:
        raise DecryptionError(f"unsupported encrypted stream version {version}")
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise DecryptionError("encrypted stream header has an invalid chunk size")
    body = total_len - HEADER_LEN
    stride = chunk_size + TAG_LEN
    n_chunks = max(1, -(-body // stride))
    last = body - (n_chunks - 1) * stride
    if last < TAG_LEN:
        raise DecryptionError("encrypted stream is truncated")
    if n_chunks > 1 and last == TAG_LEN:
        # An empty final chunk after full ones is never written; refusing it
        # keeps exactly one valid encoding per plaintext.
        raise DecryptionError("encrypted stream has a non-canonical final chunk")
    if n_chunks > MAX_CHUNKS:
        raise DecryptionError("encrypted stream has too many chunks")
    size = (n_chunks - 1) * chunk_size + last - TAG_LEN
    return StreamLayout(bytes(header[:HEADER_LEN]), chunk_size, n_chunks, size)
