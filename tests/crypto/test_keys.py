"""Hybrid key pairs: generation, serialisation, fingerprints."""

from __future__ import annotations

import copy
import pickle

import pytest

from tipline.crypto import CryptoError, PrivateKey, PublicKey, new_tip_key


def test_new_tip_key_is_32_fresh_random_bytes() -> None:
    keys = {new_tip_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(isinstance(k, bytes) and len(k) == 32 for k in keys)


def test_private_key_round_trip(keypair: PrivateKey) -> None:
    raw = keypair.to_bytes()
    assert len(raw) == 1 + 64 + 32 and raw[0] == 0x01
    again = PrivateKey.from_bytes(raw)
    assert again.to_bytes() == raw
    assert again.public_key() == keypair.public_key()


def test_public_key_round_trip(keypair: PrivateKey) -> None:
    public = keypair.public_key()
    raw = public.to_bytes()
    assert len(raw) == 1 + 1184 + 32 and raw[0] == 0x01
    assert PublicKey.from_bytes(raw) == public
    assert PublicKey.from_bytes(bytearray(raw)).to_bytes() == raw


def test_generated_keys_differ(keypair: PrivateKey, other_keypair: PrivateKey) -> None:
    assert keypair.to_bytes() != other_keypair.to_bytes()
    assert keypair.public_key() != other_keypair.public_key()
    assert keypair.public_key().fingerprint() != other_keypair.public_key().fingerprint()


def test_fingerprint_is_short_hex_of_sha256(keypair: PrivateKey) -> None:
    import hashlib

    public = keypair.public_key()
    fp = public.fingerprint()
    assert fp == hashlib.sha256(public.to_bytes()).hexdigest()[:32]
    assert fp == fp.lower() and len(fp) == 32


def test_repr_never_shows_private_material(keypair: PrivateKey) -> None:
    text = repr(keypair) + str(keypair)
    raw = keypair.to_bytes()
    assert raw.hex()[:16] not in text and raw[1:9].hex() not in text
    assert keypair.public_key().fingerprint() in text


def test_private_key_refuses_pickling_and_copying(keypair: PrivateKey) -> None:
    with pytest.raises(TypeError):
        pickle.dumps(keypair)
    with pytest.raises(TypeError):
        copy.copy(keypair)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b"",
        lambda b: b[:-1],
        lambda b: b + b"\x00",
        lambda b: b"\x02" + b[1:],
        lambda b: b"\x00" + b[1:],
    ],
)
def test_malformed_private_key_bytes(keypair: PrivateKey, mutate) -> None:
    with pytest.raises(CryptoError):
        PrivateKey.from_bytes(mutate(keypair.to_bytes()))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b"",
        lambda b: b[:-1],
        lambda b: b + b"\x00",
        lambda b: b"\x02" + b[1:],
        # Every ML-KEM coefficient must be < q = 3329; 0xFF.. encodes 4095.
        lambda b: b[:1] + b"\xff" * 1184 + b[-32:],
    ],
)
def test_malformed_public_key_bytes(keypair: PrivateKey, mutate) -> None:
    with pytest.raises(CryptoError):
        PublicKey.from_bytes(mutate(keypair.public_key().to_bytes()))


def test_unknown_version_message_is_clear(keypair: PrivateKey) -> None:
    with pytest.raises(CryptoError, match="unknown private key format version 7"):
        PrivateKey.from_bytes(b"\x07" + keypair.to_bytes()[1:])


def test_non_bytes_input_is_a_crypto_error() -> None:
    with pytest.raises(CryptoError):
        PrivateKey.from_bytes("not bytes")  # type: ignore[arg-type]
    with pytest.raises(CryptoError):
        PublicKey.from_bytes(None)  # type: ignore[arg-type]
