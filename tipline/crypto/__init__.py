"""Encryption core of the tip line: a pure library, no Django.

Everything that touches ``cryptography`` lives in this package.  See
docs/crypto.md for the threat model, the key hierarchy and the exact byte
layout of every format.

Public API::

    CryptoError, DecryptionError, WrongPassphraseError
    new_tip_key() -> bytes
    PrivateKey, PublicKey
    Argon2Params, seal_private_key, unseal_private_key, reseal_private_key,
    sealed_key_params
    wrap_key, unwrap_key
    EncryptingWriter, DecryptingReader, encrypt_bytes, decrypt_bytes,
    DEFAULT_CHUNK_SIZE, STREAM_HEADER_LEN, stream_prefix_length
    EncryptedScratchFile
    seal_secret, open_secret
"""

from .errors import CryptoError, DecryptionError, WrongPassphraseError
from .keys import PrivateKey, PublicKey, new_tip_key
from .passphrase import (
    Argon2Params,
    reseal_private_key,
    seal_private_key,
    sealed_key_params,
    unseal_private_key,
)
from .scratch import EncryptedScratchFile
from .secretbox import open_secret, seal_secret
from .stream import decrypt_bytes, encrypt_bytes
from .stream_format import DEFAULT_CHUNK_SIZE, stream_prefix_length
from .stream_format import HEADER_LEN as STREAM_HEADER_LEN
from .stream_reader import DecryptingReader
from .stream_writer import EncryptingWriter
from .wrap import unwrap_key, wrap_key

__all__ = [
    "CryptoError",
    "DecryptionError",
    "WrongPassphraseError",
    "new_tip_key",
    "PrivateKey",
    "PublicKey",
    "Argon2Params",
    "seal_private_key",
    "unseal_private_key",
    "reseal_private_key",
    "sealed_key_params",
    "wrap_key",
    "unwrap_key",
    "EncryptingWriter",
    "DecryptingReader",
    "encrypt_bytes",
    "decrypt_bytes",
    "DEFAULT_CHUNK_SIZE",
    "STREAM_HEADER_LEN",
    "stream_prefix_length",
    "EncryptedScratchFile",
    "seal_secret",
    "open_secret",
]
