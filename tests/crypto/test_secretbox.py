"""seal_secret / open_secret: small secrets under a symmetric key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tipline.crypto import CryptoError, DecryptionError, open_secret, seal_secret

from ._support import PROPERTY

KEY = bytes(range(32))
CTX = "session-private-key"


@PROPERTY
@given(plaintext=st.binary(max_size=300), context=st.text(min_size=1, max_size=40))
def test_round_trip(plaintext: bytes, context: str) -> None:
    sealed = seal_secret(KEY, plaintext, context=context)
    assert len(sealed) == 1 + 12 + len(plaintext) + 16
    assert open_secret(KEY, sealed, context=context) == plaintext


def test_nonce_is_random() -> None:
    a, b = seal_secret(KEY, b"x", context=CTX), seal_secret(KEY, b"x", context=CTX)
    assert a[1:13] != b[1:13]


def test_wrong_key_or_context() -> None:
    sealed = seal_secret(KEY, b"editor key", context=CTX)
    with pytest.raises(DecryptionError):
        open_secret(bytes(32), sealed, context=CTX)
    with pytest.raises(DecryptionError):
        open_secret(KEY, sealed, context="csrf")


def test_every_bit_flip_and_every_cut_is_rejected() -> None:
    sealed = seal_secret(KEY, b"editor private key bytes", context=CTX)
    for bit in range(len(sealed) * 8):
        damaged = bytearray(sealed)
        damaged[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(DecryptionError):
            open_secret(KEY, bytes(damaged), context=CTX)
    for cut in range(len(sealed)):
        with pytest.raises(DecryptionError):
            open_secret(KEY, sealed[:cut], context=CTX)


@pytest.mark.parametrize("key", [b"", b"k" * 31, b"k" * 33, "k" * 32])
def test_bad_key_is_a_crypto_error(key: object) -> None:
    with pytest.raises(CryptoError):
        seal_secret(key, b"x", context=CTX)  # type: ignore[arg-type]
    with pytest.raises(CryptoError):
        open_secret(key, b"\x01" + bytes(40), context=CTX)  # type: ignore[arg-type]


def test_empty_context_is_refused() -> None:
    with pytest.raises(CryptoError):
        seal_secret(KEY, b"x", context="")
