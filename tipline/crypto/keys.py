"""Hybrid post-quantum key pairs (ML-KEM-768 + X25519) for HPKE grants.

Serialisation (all multi-byte values are raw key encodings, no ASN.1):

* private key, 97 bytes:  ``0x01 || ML-KEM-768 seed (64) || X25519 private (32)``
* public key, 1217 bytes: ``0x01 || ML-KEM-768 public (1184) || X25519 public (32)``

The ML-KEM private key is stored as its 64-byte seed (FIPS 203 ``d || z``),
which is both the smallest and the form every implementation can expand.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import NoReturn

from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.hpke import (
    MLKEM768X25519PrivateKey,
    MLKEM768X25519PublicKey,
)

from ._util import KEY_SIZE, random_bytes
from .errors import CryptoError

__all__ = ["PrivateKey", "PublicKey", "new_tip_key"]

KEY_FORMAT_V1 = 0x01
MLKEM_SEED_LEN = 64
MLKEM_PUBLIC_LEN = 1184
X25519_LEN = 32
PRIVATE_KEY_LEN = 1 + MLKEM_SEED_LEN + X25519_LEN
PUBLIC_KEY_LEN = 1 + MLKEM_PUBLIC_LEN + X25519_LEN
# 128 bits of SHA-256: enough that nobody can craft a second key with the
# same fingerprint, short enough to read aloud when comparing by phone.
FINGERPRINT_BYTES = 16


def new_tip_key() -> bytes:
    """Return a fresh random 256-bit tip key."""
    return random_bytes(KEY_SIZE)


class PublicKey:
    """The public half of an editor, recovery or pipeline key."""

    __slots__ = ("_mlkem", "_x25519", "_hybrid")

    def __init__(
        self, mlkem_key: mlkem.MLKEM768PublicKey, x25519_key: x25519.X25519PublicKey
    ) -> None:
        self._mlkem = mlkem_key
        self._x25519 = x25519_key
        self._hybrid = MLKEM768X25519PublicKey(mlkem_key, x25519_key)

    @property
    def hpke_key(self) -> MLKEM768X25519PublicKey:
        """The composite key object that ``hpke.Suite.encrypt`` expects."""
        return self._hybrid

    def to_bytes(self) -> bytes:
        return (
            bytes([KEY_FORMAT_V1])
            + self._mlkem.public_bytes_raw()
            + self._x25519.public_bytes_raw()
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicKey:
        data = _as_bytes(data, "public key")
        _check_version_and_length(data, PUBLIC_KEY_LEN, "public key")
        mlkem_raw = data[1 : 1 + MLKEM_PUBLIC_LEN]
        x_raw = data[1 + MLKEM_PUBLIC_LEN :]
        try:
            mlkem_key = mlkem.MLKEM768PublicKey.from_public_bytes(mlkem_raw)
            x_key = x25519.X25519PublicKey.from_public_bytes(x_raw)
        except ValueError as exc:
            # FIPS 203 rejects encodings with coefficients >= q.
            raise CryptoError(f"invalid public key: {exc}") from exc
        return cls(mlkem_key, x_key)

    def fingerprint(self) -> str:
        """Short lowercase hex of SHA-256(to_bytes()), for people to compare."""
        digest = hashlib.sha256(self.to_bytes()).digest()
        return digest[:FINGERPRINT_BYTES].hex()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PublicKey):
            return NotImplemented
        return hmac.compare_digest(self.to_bytes(), other.to_bytes())

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    def __repr__(self) -> str:
        return f"<PublicKey {self.fingerprint()}>"


class PrivateKey:
    """The private half; keep it sealed (see ``seal_private_key``) at rest."""

    __slots__ = ("_mlkem", "_x25519", "_hybrid")

    def __init__(
        self, mlkem_key: mlkem.MLKEM768PrivateKey, x25519_key: x25519.X25519PrivateKey
    ) -> None:
        # Keep the component keys: the composite object cannot be serialised.
        self._mlkem = mlkem_key
        self._x25519 = x25519_key
        self._hybrid = MLKEM768X25519PrivateKey(mlkem_key, x25519_key)

    @classmethod
    def generate(cls) -> PrivateKey:
        return cls(mlkem.MLKEM768PrivateKey.generate(), x25519.X25519PrivateKey.generate())

    @property
    def hpke_key(self) -> MLKEM768X25519PrivateKey:
        """The composite key object that ``hpke.Suite.decrypt`` expects."""
        return self._hybrid

    def public_key(self) -> PublicKey:
        return PublicKey(self._mlkem.public_key(), self._x25519.public_key())

    def to_bytes(self) -> bytes:
        return (
            bytes([KEY_FORMAT_V1])
            + self._mlkem.private_bytes_raw()
            + self._x25519.private_bytes_raw()
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> PrivateKey:
        data = _as_bytes(data, "private key")
        _check_version_and_length(data, PRIVATE_KEY_LEN, "private key")
        seed = data[1 : 1 + MLKEM_SEED_LEN]
        x_raw = data[1 + MLKEM_SEED_LEN :]
        try:
            mlkem_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(seed)
            x_key = x25519.X25519PrivateKey.from_private_bytes(x_raw)
        except ValueError as exc:
            raise CryptoError(f"invalid private key: {exc}") from exc
        return cls(mlkem_key, x_key)

    def __repr__(self) -> str:
        # Never print key material; the public fingerprint identifies it.
        return f"<PrivateKey for {self.public_key().fingerprint()}>"

    def __reduce__(self) -> NoReturn:
        # Refuse pickling: a pickled key would end up in a cache, a Celery
        # message or a session store in plaintext.
        raise TypeError("PrivateKey cannot be pickled; seal it instead")


def _as_bytes(data: object, what: str) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CryptoError(f"{what} must be bytes, not {type(data).__name__}")
    return bytes(data)


def _check_version_and_length(data: bytes, expected_len: int, what: str) -> None:
    if not data:
        raise CryptoError(f"{what} is empty")
    if data[0] != KEY_FORMAT_V1:
        raise CryptoError(f"unknown {what} format version {data[0]}")
    if len(data) != expected_len:
        raise CryptoError(f"malformed {what}: expected {expected_len} bytes, got {len(data)}")
