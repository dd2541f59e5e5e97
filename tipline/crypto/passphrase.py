"""Private keys sealed under a passphrase (Argon2id + AES-256-GCM).

Editor keys are sealed under the editor's password and the recovery key under
the admin's passphrase.  The blob records the Argon2 parameters it was made
with, so the default can be raised later without breaking old blobs (they open
with their own parameters and are resealed with the new ones at next login).

Format v1 (all integers big-endian)::

    off  len  field
      0    4  magic "TLPK"
      4    1  version 0x01
      5    4  memory_cost in KiB (u32)
      9    4  iterations (u32)
     13    4  lanes (u32)
     17   16  salt (random)
     33   12  nonce (random)
     45    n  AES-256-GCM(k, nonce, PrivateKey.to_bytes(), aad = bytes[0:45])
   45+n   32  SHA-256(bytes[0:45+n])
    k = Argon2id(NFC(passphrase) as UTF-8, salt, memory_cost, iterations, lanes, 32)

Errors, in the order they are checked:

* too short, wrong magic/version, parameters outside sane bounds -> CryptoError
  (the bounds also stop a tampered blob from asking Argon2 for 4 TiB of RAM)
* SHA-256 trailer mismatch -> DecryptionError: the file is damaged.  This is an
  unkeyed checksum, only there so that accidental corruption of, say, the
  offline recovery key file is reported as such instead of as a wrong
  passphrase, which would send an admin hunting for a passphrase that was
  right all along.  It gives no security; GCM does that.
* GCM tag mismatch -> WrongPassphraseError.  With the checksum intact the only
  benign cause is a wrong passphrase; a deliberate forger who also recomputes
  the checksum gets the same error and still learns nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import unicodedata
from dataclasses import dataclass
from typing import ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from ._util import KEY_SIZE, random_bytes
from .errors import CryptoError, DecryptionError, WrongPassphraseError
from .keys import PrivateKey

__all__ = [
    "Argon2Params",
    "seal_private_key",
    "unseal_private_key",
    "reseal_private_key",
    "sealed_key_params",
]

MAGIC = b"TLPK"
SEALED_FORMAT_V1 = 0x01
SALT_LEN = 16
NONCE_LEN = 12
TAG_LEN = 16
CHECKSUM_LEN = 32
_HEADER = struct.Struct(">4sBIII16s12s")
HEADER_LEN = _HEADER.size  # 45

# Sanity bounds enforced when sealing AND unsealing.
MAX_MEMORY_KIB = 4 * 1024 * 1024  # 4 GiB
MAX_ITERATIONS = 64
MAX_LANES = 64


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost parameters (memory in KiB)."""

    memory_cost: int
    iterations: int
    lanes: int

    # RFC 9106 section 4 "second recommended option" (64 MiB, t=3, p=4):
    # ~0.14 s wall / 0.23 s CPU on the 2-core reference server (see
    # docs/crypto.md), well under the 1 s an interactive login can afford.
    DEFAULT: ClassVar[Argon2Params]

    def __post_init__(self) -> None:
        for name in ("memory_cost", "iterations", "lanes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise CryptoError(f"Argon2 {name} must be an int")
        if not 1 <= self.lanes <= MAX_LANES:
            raise CryptoError(f"Argon2 lanes must be 1..{MAX_LANES}")
        if not 1 <= self.iterations <= MAX_ITERATIONS:
            raise CryptoError(f"Argon2 iterations must be 1..{MAX_ITERATIONS}")
        # Argon2 itself requires at least 8 KiB per lane.
        if not 8 * self.lanes <= self.memory_cost <= MAX_MEMORY_KIB:
            raise CryptoError(f"Argon2 memory_cost must be 8*lanes..{MAX_MEMORY_KIB} KiB")


Argon2Params.DEFAULT = Argon2Params(memory_cost=64 * 1024, iterations=3, lanes=4)


def seal_private_key(
    private_key: PrivateKey, passphrase: str, *, params: Argon2Params | None = None
) -> bytes:
    """Seal ``private_key`` under ``passphrase`` (Argon2Params.DEFAULT if no params)."""
    return _seal_with(
        private_key,
        passphrase,
        params=params if params is not None else Argon2Params.DEFAULT,
        salt=random_bytes(SALT_LEN),
        nonce=random_bytes(NONCE_LEN),
    )


def unseal_private_key(sealed: bytes, passphrase: str) -> PrivateKey:
    """Open a sealed key; WrongPassphraseError if the passphrase is wrong."""
    params, salt, nonce, header, ciphertext = _parse(sealed)
    key = _derive(passphrase, salt, params)
    try:
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, header)
    except InvalidTag:
        raise WrongPassphraseError("wrong passphrase for this sealed key") from None
    return PrivateKey.from_bytes(plaintext)


def reseal_private_key(
    sealed: bytes,
    old_passphrase: str,
    new_passphrase: str,
    *,
    params: Argon2Params | None = None,
) -> bytes:
    """Change the passphrase (and maybe the cost) of a sealed key.

    With ``params=None`` the new blob uses, per parameter, the larger of the
    stored value and ``Argon2Params.DEFAULT``: a reseal upgrades old blobs and
    never silently weakens a deliberately expensive one (the recovery key).
    """
    private_key = unseal_private_key(sealed, old_passphrase)
    if params is None:
        params = _stronger(sealed_key_params(sealed), Argon2Params.DEFAULT)
    return seal_private_key(private_key, new_passphrase, params=params)


def sealed_key_params(sealed: bytes) -> Argon2Params:
    """The Argon2 parameters a blob was sealed with (to decide on a reseal)."""
    return _parse(sealed)[0]


def _seal_with(
    private_key: PrivateKey,
    passphrase: str,
    *,
    params: Argon2Params,
    salt: bytes,
    nonce: bytes,
) -> bytes:
    """seal_private_key with explicit randomness: for known-answer tests only."""
    if not isinstance(private_key, PrivateKey):
        raise CryptoError("private_key must be a tipline.crypto.PrivateKey")
    if not isinstance(params, Argon2Params):
        raise CryptoError("params must be an Argon2Params")
    if len(salt) != SALT_LEN or len(nonce) != NONCE_LEN:
        # struct.pack would silently pad or cut a wrong-sized value.
        raise CryptoError("salt must be 16 bytes and nonce 12 bytes")
    if _normalise(passphrase) == b"":
        raise CryptoError("refusing to seal a key under an empty passphrase")
    header = _HEADER.pack(
        MAGIC, SEALED_FORMAT_V1, params.memory_cost, params.iterations, params.lanes, salt, nonce
    )
    key = _derive(passphrase, salt, params)
    body = header + AESGCM(key).encrypt(nonce, private_key.to_bytes(), header)
    return body + hashlib.sha256(body).digest()


def _parse(sealed: bytes) -> tuple[Argon2Params, bytes, bytes, bytes, bytes]:
    if not isinstance(sealed, (bytes, bytearray, memoryview)):
        raise CryptoError(f"sealed key must be bytes, not {type(sealed).__name__}")
    sealed = bytes(sealed)
    if len(sealed) < HEADER_LEN + TAG_LEN + CHECKSUM_LEN:
        raise CryptoError("not a sealed private key (too short)")
    body, checksum = sealed[:-CHECKSUM_LEN], sealed[-CHECKSUM_LEN:]
    if not hmac.compare_digest(hashlib.sha256(body).digest(), checksum):
        raise DecryptionError("sealed private key is damaged (checksum mismatch)")
    magic, version, memory_cost, iterations, lanes, salt, nonce = _HEADER.unpack_from(body)
    if magic != MAGIC:
        raise CryptoError("not a sealed private key (bad magic)")
    if version != SEALED_FORMAT_V1:
        raise CryptoError(f"unknown sealed private key version {version}")
    params = Argon2Params(memory_cost=memory_cost, iterations=iterations, lanes=lanes)
    return params, salt, nonce, body[:HEADER_LEN], body[HEADER_LEN:]


def _derive(passphrase: str, salt: bytes, params: Argon2Params) -> bytes:
    kdf = Argon2id(
        salt=salt,
        length=KEY_SIZE,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_cost,
    )
    return kdf.derive(_normalise(passphrase))


def _normalise(passphrase: str) -> bytes:
    # NFC so that "é" typed as one code point on a phone and as e + combining
    # accent on a laptop is the same passphrase.
    if not isinstance(passphrase, str):
        raise CryptoError(f"passphrase must be a str, not {type(passphrase).__name__}")
    try:
        return unicodedata.normalize("NFC", passphrase).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CryptoError("passphrase is not valid Unicode text") from exc


def _stronger(a: Argon2Params, b: Argon2Params) -> Argon2Params:
    lanes = max(a.lanes, b.lanes)
    return Argon2Params(
        memory_cost=max(a.memory_cost, b.memory_cost, 8 * lanes),
        iterations=max(a.iterations, b.iterations),
        lanes=lanes,
    )
