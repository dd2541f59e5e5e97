"""Exceptions raised by :mod:`tipline.crypto`.

Callers are meant to catch exactly one of these per situation:

* :class:`DecryptionError` whenever ciphertext does not authenticate, for any
  reason (tampering, truncation, reordering, wrong key, wrong object, unknown
  format version).  The reasons are deliberately not distinguished in the
  exception type: an attacker probing a server must not learn *which* check
  failed, and a caller has only one sane reaction (refuse the data).
* :class:`WrongPassphraseError` when a sealed private key does not open with
  the passphrase given.  It is *not* a :class:`DecryptionError` because the
  reaction differs: ask the person again instead of raising an alarm.
* :class:`CryptoError` for everything else: malformed serialised keys, a key of
  the wrong length, an empty object id, parameters out of range.  These are
  bugs or corrupted inputs, never a question of which key is right.
"""

from __future__ import annotations

__all__ = ["CryptoError", "DecryptionError", "WrongPassphraseError"]


class CryptoError(Exception):
    """Base class of every error raised by :mod:`tipline.crypto`."""


class DecryptionError(CryptoError):
    """Ciphertext failed authentication; no plaintext from it may be used."""


class WrongPassphraseError(CryptoError):
    """A sealed private key could not be opened with the given passphrase."""
