"""Known-answer vectors: a change to any stored format fails here.

The vectors were generated once by tests/crypto/make_vectors.py.  Each test
checks both directions where the format allows: the stored bytes still open
to the stored plaintext, and encrypting again with the stored randomness
gives the stored bytes exactly.  The stream test also re-derives the key with
an independent RFC 5869 HKDF (stdlib hmac) and re-parses the layout from the
offsets documented in docs/crypto.md, so the documentation is tested too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from tipline.crypto import (
    Argon2Params,
    PrivateKey,
    PublicKey,
    decrypt_bytes,
    open_secret,
    sealed_key_params,
    unseal_private_key,
    unwrap_key,
)
from tipline.crypto.passphrase import _seal_with
from tipline.crypto.secretbox import _seal_secret_with
from tipline.crypto.stream import _encrypt_bytes_with_salt
from tipline.crypto.stream_format import derive_stream_key

VECTORS = Path(__file__).resolve().parent / "vectors"


def load(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


STREAM = load("stream_v1.json")


def rfc5869_hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def lp(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


@pytest.mark.parametrize("case", STREAM["cases"], ids=lambda c: c["name"])
def test_stream_vector_decrypts(case: dict[str, Any]) -> None:
    tip_key = bytes.fromhex(STREAM["tip_key"])
    blob = bytes.fromhex(case["ciphertext"])
    got = decrypt_bytes(blob, tip_key=tip_key, object_id=case["object_id"])
    assert got == bytes.fromhex(case["plaintext"])


@pytest.mark.parametrize("case", STREAM["cases"], ids=lambda c: c["name"])
def test_stream_vector_encrypts_exactly(case: dict[str, Any]) -> None:
    blob = _encrypt_bytes_with_salt(
        bytes.fromhex(case["plaintext"]),
        tip_key=bytes.fromhex(STREAM["tip_key"]),
        object_id=case["object_id"],
        salt=bytes.fromhex(case["salt"]),
        chunk_size=case["chunk_size"],
    )
    assert blob.hex() == case["ciphertext"]


@pytest.mark.parametrize("case", STREAM["cases"], ids=lambda c: c["name"])
def test_stream_vector_matches_documented_derivation(case: dict[str, Any]) -> None:
    tip_key = bytes.fromhex(STREAM["tip_key"])
    salt = bytes.fromhex(case["salt"])
    oid = case["object_id"].encode("utf-8")
    info = lp(b"tipline/stream") + b"\x01" + lp(oid)
    okm = rfc5869_hkdf_sha256(tip_key, salt, info, 39)
    assert okm[:32].hex() == case["derived_key"]
    assert okm[32:].hex() == case["nonce_prefix"]
    assert derive_stream_key(tip_key, salt, oid) == (okm[:32], okm[32:])


@pytest.mark.parametrize("case", STREAM["cases"], ids=lambda c: c["name"])
def test_stream_vector_matches_documented_layout(case: dict[str, Any]) -> None:
    blob = bytes.fromhex(case["ciphertext"])
    magic, version, chunk_size, salt = struct.unpack(">4sBI32s", blob[:41])
    assert (magic, version, chunk_size) == (b"TLST", 1, case["chunk_size"])
    assert salt.hex() == case["salt"]
    n = len(bytes.fromhex(case["plaintext"]))
    chunks = max(1, -(-n // chunk_size))
    assert len(blob) == 41 + n + 16 * chunks


def test_sealed_key_vector() -> None:
    v = load("sealed_key_v1.json")
    sealed = bytes.fromhex(v["sealed"])
    expected = bytes.fromhex(v["private_key"])
    params = Argon2Params(**v["params"])
    assert sealed_key_params(sealed) == params
    # Sealed under the decomposed spelling, opens with the composed one.
    assert unseal_private_key(sealed, v["passphrase_nfc"]).to_bytes() == expected
    assert unseal_private_key(sealed, v["passphrase_nfd"]).to_bytes() == expected
    again = _seal_with(
        PrivateKey.from_bytes(expected),
        v["passphrase_nfd"],
        params=params,
        salt=bytes.fromhex(v["salt"]),
        nonce=bytes.fromhex(v["nonce"]),
    )
    assert again.hex() == v["sealed"]


def test_wrapped_key_vector() -> None:
    v = load("wrapped_key_v1.json")
    private = PrivateKey.from_bytes(bytes.fromhex(v["private_key"]))
    # Public key derivation from the seed and its serialisation are pinned.
    assert private.public_key().to_bytes().hex() == v["public_key"]
    assert PublicKey.from_bytes(bytes.fromhex(v["public_key"])).fingerprint() == v["fingerprint"]
    got = unwrap_key(
        bytes.fromhex(v["wrapped"]), private, purpose=v["purpose"], object_id=v["object_id"]
    )
    assert got.hex() == v["key"]


def test_secret_vector() -> None:
    v = load("secret_v1.json")
    key = bytes.fromhex(v["key"])
    sealed = bytes.fromhex(v["sealed"])
    assert open_secret(key, sealed, context=v["context"]).hex() == v["plaintext"]
    again = _seal_secret_with(
        key, bytes.fromhex(v["plaintext"]), context=v["context"], nonce=bytes.fromhex(v["nonce"])
    )
    assert again.hex() == v["sealed"]
