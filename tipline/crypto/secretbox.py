"""Small one-shot secrets under a symmetric key (AES-256-GCM, random nonce).

Used, for example, to keep an editor's unsealed private key in the server-side
session encrypted under a random key that lives only in the browser cookie:
the session store alone (a database dump) cannot open it, nor can the cookie
alone.

Format v1::

    0x01 || nonce (12 random bytes) || AES-256-GCM(key, nonce, plaintext, aad)
    aad = lp("tipline/secret") || 0x01 || lp(utf8(context))

where lp(x) is a 4-byte big-endian length followed by x.  Binding ``context``
means a secret sealed for one purpose ("session-private-key") cannot be
replayed where another is expected.  Random 96-bit nonces are safe here
because each key seals few messages (NIST SP 800-38D allows 2**32).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._util import check_key, encode_label, lp, random_bytes
from .errors import CryptoError, DecryptionError

__all__ = ["seal_secret", "open_secret"]

SECRET_FORMAT_V1 = 0x01
NONCE_LEN = 12
TAG_LEN = 16
_LABEL = b"tipline/secret"


def seal_secret(key: bytes, plaintext: bytes, *, context: str) -> bytes:
    """Encrypt and authenticate ``plaintext`` under ``key``, bound to ``context``."""
    return _seal_secret_with(key, plaintext, context=context, nonce=random_bytes(NONCE_LEN))


def open_secret(key: bytes, sealed: bytes, *, context: str) -> bytes:
    """Return the plaintext, or raise DecryptionError if anything is off."""
    aesgcm = AESGCM(check_key(key))
    aad = _aad(context)
    if not isinstance(sealed, (bytes, bytearray, memoryview)):
        raise CryptoError(f"sealed secret must be bytes, not {type(sealed).__name__}")
    sealed = bytes(sealed)
    if len(sealed) < 1 + NONCE_LEN + TAG_LEN:
        raise DecryptionError("sealed secret is truncated")
    if sealed[0] != SECRET_FORMAT_V1:
        raise DecryptionError(f"unknown sealed secret version {sealed[0]}")
    nonce = sealed[1 : 1 + NONCE_LEN]
    try:
        return aesgcm.decrypt(nonce, sealed[1 + NONCE_LEN :], aad)
    except InvalidTag:
        raise DecryptionError("sealed secret failed authentication") from None


def _seal_secret_with(key: bytes, plaintext: bytes, *, context: str, nonce: bytes) -> bytes:
    """seal_secret with an explicit nonce: for known-answer tests only."""
    aesgcm = AESGCM(check_key(key))
    if len(nonce) != NONCE_LEN:
        raise CryptoError("nonce must be 12 bytes")
    if not isinstance(plaintext, (bytes, bytearray, memoryview)):
        raise CryptoError(f"plaintext must be bytes, not {type(plaintext).__name__}")
    ciphertext = aesgcm.encrypt(nonce, plaintext, _aad(context))
    return bytes([SECRET_FORMAT_V1]) + nonce + ciphertext


def _aad(context: str) -> bytes:
    return lp(_LABEL) + bytes([SECRET_FORMAT_V1]) + lp(encode_label(context, "context"))
