"""Grants: tip keys wrapped to a recipient with HPKE (ML-KEM-768 + X25519)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tipline.crypto import CryptoError, DecryptionError, PrivateKey, unwrap_key, wrap_key

from ._support import PROPERTY

KEY = bytes(range(32))
PURPOSE = "tip-key"
TIP = "7f0c1c7e-3a1b-4c55-9a3e-0d2b1f6a9e11"
ENC_LEN = 1120


@pytest.fixture(scope="module")
def wrapped(keypair: PrivateKey) -> bytes:
    return wrap_key(KEY, keypair.public_key(), purpose=PURPOSE, object_id=TIP)


def test_round_trip(keypair: PrivateKey, wrapped: bytes) -> None:
    assert unwrap_key(wrapped, keypair, purpose=PURPOSE, object_id=TIP) == KEY


def test_layout(wrapped: bytes) -> None:
    assert wrapped[0] == 0x01
    assert len(wrapped) == 1 + ENC_LEN + len(KEY) + 16


def test_wrapping_is_randomised(keypair: PrivateKey, wrapped: bytes) -> None:
    again = wrap_key(KEY, keypair.public_key(), purpose=PURPOSE, object_id=TIP)
    assert again != wrapped
    assert unwrap_key(again, keypair, purpose=PURPOSE, object_id=TIP) == KEY


def test_wrong_purpose(keypair: PrivateKey, wrapped: bytes) -> None:
    with pytest.raises(DecryptionError):
        unwrap_key(wrapped, keypair, purpose="note-key", object_id=TIP)


def test_wrong_object_id(keypair: PrivateKey, wrapped: bytes) -> None:
    with pytest.raises(DecryptionError):
        unwrap_key(wrapped, keypair, purpose=PURPOSE, object_id=TIP[:-1] + "2")


def test_wrong_recipient(other_keypair: PrivateKey, wrapped: bytes) -> None:
    with pytest.raises(DecryptionError):
        unwrap_key(wrapped, other_keypair, purpose=PURPOSE, object_id=TIP)


def test_info_fields_are_unambiguous(keypair: PrivateKey) -> None:
    # Without length prefixes ("ab", "c") and ("a", "bc") would collide.
    blob = wrap_key(KEY, keypair.public_key(), purpose="ab", object_id="c")
    assert unwrap_key(blob, keypair, purpose="ab", object_id="c") == KEY
    with pytest.raises(DecryptionError):
        unwrap_key(blob, keypair, purpose="a", object_id="bc")


def test_every_byte_tampered_is_rejected(keypair: PrivateKey, wrapped: bytes) -> None:
    # One flipped bit in every byte: the version, the X25519 and ML-KEM parts
    # of the encapsulation, the ciphertext and the tag.
    for i in range(len(wrapped)):
        damaged = bytearray(wrapped)
        damaged[i] ^= 1 << (i % 8)
        with pytest.raises(DecryptionError):
            unwrap_key(bytes(damaged), keypair, purpose=PURPOSE, object_id=TIP)


@PROPERTY
@given(bit=st.integers(0, (1 + ENC_LEN + 32 + 16) * 8 - 1))
def test_any_single_bit_flip_is_rejected(keypair: PrivateKey, wrapped: bytes, bit: int) -> None:
    damaged = bytearray(wrapped)
    damaged[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(DecryptionError):
        unwrap_key(bytes(damaged), keypair, purpose=PURPOSE, object_id=TIP)


def test_truncation_and_extension_are_rejected(keypair: PrivateKey, wrapped: bytes) -> None:
    for cut in [0, 1, ENC_LEN, ENC_LEN + 1, len(wrapped) - 16, len(wrapped) - 1]:
        with pytest.raises(DecryptionError):
            unwrap_key(wrapped[:cut], keypair, purpose=PURPOSE, object_id=TIP)
    with pytest.raises(DecryptionError):
        unwrap_key(wrapped + b"\x00", keypair, purpose=PURPOSE, object_id=TIP)


@pytest.mark.parametrize("version", [0x00, 0x02])
def test_unknown_version_is_rejected(keypair: PrivateKey, wrapped: bytes, version: int) -> None:
    with pytest.raises(DecryptionError, match="version"):
        unwrap_key(bytes([version]) + wrapped[1:], keypair, purpose=PURPOSE, object_id=TIP)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"key": b"short"},
        {"key": b"x" * 65},
        {"key": "x" * 32},
        {"purpose": ""},
        {"object_id": ""},
        {"object_id": "x" * 2000},
        {"recipient": b"not a key"},
    ],
)
def test_wrap_rejects_bad_arguments(keypair: PrivateKey, kwargs: dict) -> None:
    args = {"key": KEY, "recipient": keypair.public_key(), "purpose": PURPOSE, "object_id": TIP}
    args |= kwargs
    key = args.pop("key")
    recipient = args.pop("recipient")
    with pytest.raises(CryptoError):
        wrap_key(key, recipient, **args)


def test_rewrap_to_a_new_editor(
    keypair: PrivateKey, other_keypair: PrivateKey, wrapped: bytes
) -> None:
    # Granting a newcomer = unwrap with an unlocked key, wrap to the newcomer.
    tip_key = unwrap_key(wrapped, keypair, purpose=PURPOSE, object_id=TIP)
    grant = wrap_key(tip_key, other_keypair.public_key(), purpose=PURPOSE, object_id=TIP)
    assert unwrap_key(grant, other_keypair, purpose=PURPOSE, object_id=TIP) == KEY
    with pytest.raises(DecryptionError):
        unwrap_key(grant, keypair, purpose=PURPOSE, object_id=TIP)
