"""Raw AES-256-GCM baselines for bench/crypto.py (not public API).

They live here because ``cryptography`` may only be imported inside this
package.  They do what the stream code does per chunk minus everything that
is ours (buffering, nonce building, seeking, checks), over the same memory
the writer and reader use, so the ratio printed by the bench is the cost of
the stream layer itself.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._util import random_bytes
from .stream_format import (
    HEADER_LEN,
    TAG_LEN,
    StreamLayout,
    chunk_nonce,
    derive_stream_key,
    parse_header,
)

_AAD = bytes(HEADER_LEN)  # same size as a stream header
_NONCE_BATCH = 1024


def raw_encrypt_seconds(data: bytes, chunk_size: int, n_chunks: int) -> float:
    """Seconds to AESGCM.encrypt ``n_chunks`` chunk-sized slices of ``data``.

    ``data`` is what the bench feeds the writer (its length a multiple of
    ``chunk_size``), so both read the same, equally cache-warm memory.
    """
    aead = AESGCM(random_bytes(32))
    nonce = bytes(12)
    view = memoryview(data)
    slices = [view[i : i + chunk_size] for i in range(0, len(view), chunk_size)]
    start = time.perf_counter()
    for i in range(n_chunks):
        aead.encrypt(nonce, slices[i % len(slices)], _AAD)
    return time.perf_counter() - start


def raw_decrypt_hot_seconds(chunk_size: int, n_chunks: int) -> float:
    """Seconds to AESGCM.decrypt_into one chunk, cache-hot, ``n_chunks`` times.

    The ceiling of AES-GCM itself on this CPU; no stream of real size can
    reach it, since its ciphertext must come from RAM (see the bench).
    """
    aead = AESGCM(random_bytes(32))
    nonce = bytes(12)
    ciphertext = aead.encrypt(nonce, random_bytes(chunk_size), _AAD)
    out = bytearray(chunk_size)
    start = time.perf_counter()
    for _ in range(n_chunks):
        aead.decrypt_into(nonce, ciphertext, _AAD, out)
    return time.perf_counter() - start


def raw_decrypt_seconds(blob: bytes, tip_key: bytes, object_id: str, read_size: int) -> float:
    """Seconds to AESGCM.decrypt_into every chunk of the stream ``blob``.

    Straight from ``blob`` (no copy) into a ``read_size`` buffer, chunk after
    chunk, just where a reader's readinto(read_size) puts them.
    """
    aead, layout, prefix = _open(blob[:HEADER_LEN], len(blob), tip_key, object_id)
    cs, stride = layout.chunk_size, layout.chunk_size + TAG_LEN
    out = memoryview(bytearray(max(read_size, cs)))
    per_read = max(1, read_size // cs)
    src = memoryview(blob)
    last = layout.n_chunks - 1
    elapsed = 0.0
    for first, nonces in _nonce_batches(layout, prefix):
        start = time.perf_counter()
        for i, nonce in enumerate(nonces, first):
            off, dst = HEADER_LEN + i * stride, (i % per_read) * cs
            n = cs if i < last else layout.size - i * cs  # as lean as can be
            ct = src[off : off + n + TAG_LEN]
            aead.decrypt_into(nonce, ct, layout.header, out[dst : dst + n])
        elapsed += time.perf_counter() - start
    return elapsed


def raw_decrypt_file_seconds(source: io.RawIOBase, tip_key: bytes, object_id: str) -> float:
    """Seconds to read a stream file sequentially and decrypt_into each chunk.

    One readinto per chunk into one buffer, then decrypt: the least any
    reader of a file must do (``source`` should be unbuffered).
    """
    total = source.seek(0, 2)
    source.seek(0)
    aead, layout, prefix = _open(source.read(HEADER_LEN), total, tip_key, object_id)
    cs, last = layout.chunk_size, layout.n_chunks - 1
    ct = memoryview(bytearray(cs + TAG_LEN))
    out = memoryview(bytearray(cs))
    elapsed = 0.0
    for first, nonces in _nonce_batches(layout, prefix):
        start = time.perf_counter()
        for i, nonce in enumerate(nonces, first):
            n = cs if i < last else layout.size - i * cs
            into = ct[: n + TAG_LEN]
            source.readinto(into)
            aead.decrypt_into(nonce, into, layout.header, out[:n])
        elapsed += time.perf_counter() - start
    return elapsed


def _open(
    header: bytes, total_len: int, tip_key: bytes, object_id: str
) -> tuple[AESGCM, StreamLayout, bytes]:
    layout = parse_header(header, total_len)
    key, prefix = derive_stream_key(tip_key, layout.salt, object_id.encode())
    return AESGCM(key), layout, prefix


def _nonce_batches(layout: StreamLayout, prefix: bytes) -> Iterator[tuple[int, list[bytes]]]:
    """(first index, nonces) in batches: built outside the timed loops, since
    building nonces is the stream code's work, yet never all at once, so the
    baseline's memory does not grow with the stream's size (peakRSS+)."""
    last = layout.n_chunks - 1
    for first in range(0, layout.n_chunks, _NONCE_BATCH):
        stop = min(first + _NONCE_BATCH, layout.n_chunks)
        yield first, [chunk_nonce(prefix, i, i == last) for i in range(first, stop)]
