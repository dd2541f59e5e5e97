"""Key grants: a symmetric key wrapped to one recipient with HPKE (RFC 9180).

Suite: KEM ML-KEM-768+X25519 hybrid, KDF HKDF-SHA256, AEAD AES-256-GCM, base
mode (no sender authentication: sources are anonymous and the server wraps on
their behalf).  The hybrid KEM stays secure if either ML-KEM or X25519 holds,
so captured ciphertext is safe from a future quantum computer and from a
future break of ML-KEM alike.

Format v1::

    wrapped = 0x01 || enc (1120 bytes) || AES-256-GCM ciphertext+tag
    info    = lp("tipline/wrap") || 0x01 || lp(utf8(purpose)) || lp(utf8(object_id))

``info`` enters the HPKE key schedule, so a grant only opens for the exact
(format version, purpose, object_id) it was made for: a tip key wrapped for
tip A cannot be presented as the key of tip B, and a wrapped tip key cannot be
confused with a wrapped key of another purpose.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from ._util import encode_label, lp
from .errors import CryptoError, DecryptionError
from .keys import PrivateKey, PublicKey

__all__ = ["wrap_key", "unwrap_key"]

WRAP_FORMAT_V1 = 0x01
_LABEL = b"tipline/wrap"
_SUITE = Suite(KEM.MLKEM768_X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
ENC_LEN = KEM.MLKEM768_X25519.enc_length()
TAG_LEN = 16
# Wrapping is for keys, not data: refuse anything that does not look like one.
MIN_KEY_LEN = 16
MAX_KEY_LEN = 64


def wrap_key(key: bytes, recipient: PublicKey, *, purpose: str, object_id: str) -> bytes:
    """Encrypt ``key`` to ``recipient``, bound to ``purpose`` and ``object_id``."""
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise CryptoError(f"key must be bytes, not {type(key).__name__}")
    if not MIN_KEY_LEN <= len(key) <= MAX_KEY_LEN:
        raise CryptoError(f"key must be {MIN_KEY_LEN}..{MAX_KEY_LEN} bytes, got {len(key)}")
    if not isinstance(recipient, PublicKey):
        raise CryptoError("recipient must be a tipline.crypto.PublicKey")
    info = _info(purpose, object_id)
    return bytes([WRAP_FORMAT_V1]) + _SUITE.encrypt(bytes(key), recipient.hpke_key, info=info)


def unwrap_key(wrapped: bytes, private_key: PrivateKey, *, purpose: str, object_id: str) -> bytes:
    """Return the wrapped key, or raise DecryptionError if it does not open."""
    if not isinstance(private_key, PrivateKey):
        raise CryptoError("private_key must be a tipline.crypto.PrivateKey")
    info = _info(purpose, object_id)
    if not isinstance(wrapped, (bytes, bytearray, memoryview)):
        raise CryptoError(f"wrapped key must be bytes, not {type(wrapped).__name__}")
    wrapped = bytes(wrapped)
    if len(wrapped) < 1 + ENC_LEN + TAG_LEN + MIN_KEY_LEN:
        raise DecryptionError("wrapped key is truncated")
    if wrapped[0] != WRAP_FORMAT_V1:
        raise DecryptionError(f"unknown wrapped key version {wrapped[0]}")
    try:
        return _SUITE.decrypt(wrapped[1:], private_key.hpke_key, info=info)
    except (InvalidTag, ValueError):
        # ValueError covers a malformed encapsulation; to the caller it is the
        # same event as a bad tag: this grant does not open with this key.
        raise DecryptionError("wrapped key failed authentication") from None


def _info(purpose: str, object_id: str) -> bytes:
    return (
        lp(_LABEL)
        + bytes([WRAP_FORMAT_V1])
        + lp(encode_label(purpose, "purpose"))
        + lp(encode_label(object_id, "object_id"))
    )
