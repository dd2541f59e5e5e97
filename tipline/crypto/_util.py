"""Small helpers shared by the format modules (not public API)."""

from __future__ import annotations

import os
import struct

from .errors import CryptoError

# Every symmetric key in this package is AES-256 / HKDF input of this size.
KEY_SIZE = 32

# Identifiers and labels are bound into key derivation and HPKE info strings.
# A generous cap keeps a bug (say, a whole document passed as object_id) from
# silently producing huge info strings.
MAX_LABEL_BYTES = 1024


def random_bytes(n: int) -> bytes:
    """Return ``n`` bytes from the OS CSPRNG.

    One indirection so that every source of randomness in the package is
    visible in one place; tests never patch it (known-answer tests inject
    randomness through the private ``_*_with`` functions instead).
    """
    return os.urandom(n)


def check_key(key: object, what: str = "key") -> bytes:
    """Return ``key`` as bytes if it is a 32-byte key, else raise CryptoError."""
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise CryptoError(f"{what} must be bytes, not {type(key).__name__}")
    key = bytes(key)
    if len(key) != KEY_SIZE:
        raise CryptoError(f"{what} must be {KEY_SIZE} bytes, got {len(key)}")
    return key


def encode_label(value: object, what: str) -> bytes:
    """UTF-8 encode a non-empty identifier (object_id, purpose, context)."""
    if not isinstance(value, str):
        raise CryptoError(f"{what} must be a str, not {type(value).__name__}")
    if not value:
        # An empty id would bind the ciphertext to nothing in particular.
        raise CryptoError(f"{what} must not be empty")
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates
        raise CryptoError(f"{what} is not valid Unicode text") from exc
    if len(raw) > MAX_LABEL_BYTES:
        raise CryptoError(f"{what} is longer than {MAX_LABEL_BYTES} bytes")
    return raw


def lp(data: bytes) -> bytes:
    """Length-prefix ``data`` with a 4-byte big-endian length.

    Concatenating length-prefixed fields is injective, so no two different
    (purpose, object_id) pairs can produce the same derivation input.
    """
    return struct.pack(">I", len(data)) + data
