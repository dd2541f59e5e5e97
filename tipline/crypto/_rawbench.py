"""Raw AES-256-GCM baselines for bench/crypto.py (not public API).

They live here because ``cryptography`` may only be imported inside this
package.  They do what the stream code does per chunk minus everything that
is ours (buffering, nonce building, I/O), so the ratio printed by the bench
is the cost of the stream layer itself.
"""

from __future__ import annotations

import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._util import random_bytes

_AAD = bytes(41)  # same size as a stream header


def raw_encrypt_seconds(chunk_size: int, n_chunks: int) -> float:
    """Seconds to AESGCM.encrypt ``n_chunks`` buffers of ``chunk_size`` bytes."""
    aead = AESGCM(random_bytes(32))
    nonce = bytes(12)
    data = random_bytes(chunk_size)
    start = time.perf_counter()
    for _ in range(n_chunks):
        aead.encrypt(nonce, data, _AAD)
    return time.perf_counter() - start


def raw_decrypt_seconds(chunk_size: int, n_chunks: int) -> float:
    """Seconds to AESGCM.decrypt_into ``n_chunks`` chunks into one buffer."""
    aead = AESGCM(random_bytes(32))
    nonce = bytes(12)
    ciphertext = aead.encrypt(nonce, random_bytes(chunk_size), _AAD)
    out = bytearray(chunk_size)
    start = time.perf_counter()
    for _ in range(n_chunks):
        aead.decrypt_into(nonce, ciphertext, _AAD, out)
    return time.perf_counter() - start
