"""A source's key pair, derived from the receipt passphrase (docs/crypto.md, "Sources come back").

The same suite as every other key (ML-KEM-768 + X25519, tipline/crypto/keys.py),
but nothing of it is stored except the public half: the private half is
derived again at each visit from what the source types.

    seed        = Argon2id(passphrase, salt, params, 32 bytes)
    key bytes   = HKDF-SHA256(seed, salt = none, info = "tipline/source-key/v1", 96 bytes)
    private key = PrivateKey.from_bytes(0x01 || key bytes)
                = ML-KEM-768 seed (64, FIPS 203 d || z) || X25519 private (32)

Both halves are specified as "any bytes of that length" (FIPS 203 expands
the 64-byte seed deterministically; X25519 clamps any 32 bytes), so the
derivation gives the same key on any implementation. The caller normalises
the passphrase first (tipline/conversation/passphrase.py): this module
derives from exactly the text it is given.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ._util import KEY_SIZE
from .errors import CryptoError
from .keys import KEY_FORMAT_V1, MLKEM_SEED_LEN, X25519_LEN, PrivateKey
from .passphrase import Argon2Params

__all__ = ["SOURCE_KEY_SALT_LEN", "derive_source_private_key"]

SOURCE_KEY_SALT_LEN = 16
_INFO = b"tipline/source-key/v1"


def derive_source_private_key(
    normalised_passphrase: str, *, salt: bytes, params: Argon2Params
) -> PrivateKey:
    """The source's private key for this passphrase and salt (Argon2id, then HKDF)."""
    if not isinstance(normalised_passphrase, str) or not normalised_passphrase:
        raise CryptoError("the source key needs a non-empty passphrase")
    if not isinstance(salt, bytes) or len(salt) != SOURCE_KEY_SALT_LEN:
        raise CryptoError(f"the source key's salt must be {SOURCE_KEY_SALT_LEN} bytes")
    seed = Argon2id(
        salt=salt,
        length=KEY_SIZE,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_cost,
    ).derive(normalised_passphrase.encode("utf-8"))
    material = HKDF(
        algorithm=hashes.SHA256(), length=MLKEM_SEED_LEN + X25519_LEN, salt=None, info=_INFO
    ).derive(seed)
    return PrivateKey.from_bytes(bytes([KEY_FORMAT_V1]) + material)
