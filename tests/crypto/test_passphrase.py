"""Private keys sealed under a passphrase with Argon2id."""

from __future__ import annotations

import hashlib
import time

import pytest

from tipline.crypto import (
    Argon2Params,
    CryptoError,
    DecryptionError,
    PrivateKey,
    WrongPassphraseError,
    reseal_private_key,
    seal_private_key,
    sealed_key_params,
    unseal_private_key,
)

from ._support import CHEAP_ARGON2

PASS = "correct horse battery staple"


@pytest.fixture(scope="module")
def sealed(keypair: PrivateKey) -> bytes:
    return seal_private_key(keypair, PASS, params=CHEAP_ARGON2)


def rechecksum(body: bytes) -> bytes:
    """Recompute the trailer, as a deliberate forger (not bit rot) would."""
    return body + hashlib.sha256(body).digest()


def test_round_trip(keypair: PrivateKey, sealed: bytes) -> None:
    assert unseal_private_key(sealed, PASS).to_bytes() == keypair.to_bytes()


def test_layout(sealed: bytes) -> None:
    assert sealed[:4] == b"TLPK" and sealed[4] == 0x01
    assert len(sealed) == 45 + 97 + 16 + 32
    assert sealed_key_params(sealed) == CHEAP_ARGON2


def test_salt_and_nonce_are_random(keypair: PrivateKey, sealed: bytes) -> None:
    again = seal_private_key(keypair, PASS, params=CHEAP_ARGON2)
    assert again[17:33] != sealed[17:33] and again[33:45] != sealed[33:45]


@pytest.mark.parametrize(
    "wrong", ["", "correct horse battery stapl", "Correct horse battery staple"]
)
def test_wrong_passphrase(sealed: bytes, wrong: str) -> None:
    with pytest.raises(WrongPassphraseError) as info:
        unseal_private_key(sealed, wrong)
    assert not isinstance(info.value, DecryptionError)


def test_passphrase_is_nfc_normalised(keypair: PrivateKey) -> None:
    composed = "contrase\u00f1a se\u00f1or"  # ñ as one code point (phones)
    decomposed = "contrasen\u0303a sen\u0303or"  # n + combining tilde (some laptops)
    blob = seal_private_key(keypair, decomposed, params=CHEAP_ARGON2)
    assert unseal_private_key(blob, composed).to_bytes() == keypair.to_bytes()


def test_every_bit_flip_is_reported_as_damage(sealed: bytes) -> None:
    # The checksum catches accidental corruption before Argon2 runs, so an
    # admin with a damaged recovery file is not told the passphrase is wrong.
    for bit in range(len(sealed) * 8):
        damaged = bytearray(sealed)
        damaged[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(DecryptionError):
            unseal_private_key(bytes(damaged), PASS)


@pytest.mark.parametrize(
    "offset",
    [8, 12, 16, 17, 32, 33, 44, 45, 100, 157],
    ids=lambda o: f"byte{o}",
)
def test_forged_params_salt_nonce_or_ciphertext_never_open(sealed: bytes, offset: int) -> None:
    # A forger who fixes the checksum still gets nothing: the header is the
    # AEAD's associated data and the key depends on params and salt.  (Bytes
    # 8, 12, 16 are the low bytes of memory_cost, iterations and lanes; xor 2
    # keeps them in bounds: 66 KiB, 3 iterations, 3 lanes.)
    body = bytearray(sealed[:-32])
    body[offset] ^= 0x02
    with pytest.raises(WrongPassphraseError):
        unseal_private_key(rechecksum(bytes(body)), PASS)


def test_forged_huge_memory_cost_is_refused_before_argon2(sealed: bytes) -> None:
    body = bytearray(sealed[:-32])
    body[5:9] = (2**32 - 1).to_bytes(4, "big")  # 4 TiB
    start = time.perf_counter()
    with pytest.raises(CryptoError, match="memory_cost"):
        unseal_private_key(rechecksum(bytes(body)), PASS)
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    ("offset", "value", "message"),
    [(0, b"XXXX", "magic"), (4, b"\x02", "version")],
)
def test_foreign_magic_or_version(sealed: bytes, offset: int, value: bytes, message: str) -> None:
    body = bytearray(sealed[:-32])
    body[offset : offset + len(value)] = value
    with pytest.raises(CryptoError, match=message):
        unseal_private_key(rechecksum(bytes(body)), PASS)


@pytest.mark.parametrize("blob", [b"", b"TLPK", b"x" * 92])
def test_garbage(blob: bytes) -> None:
    with pytest.raises(CryptoError):
        unseal_private_key(blob, PASS)


def test_reseal_changes_passphrase(keypair: PrivateKey, sealed: bytes) -> None:
    cheap2 = Argon2Params(memory_cost=128, iterations=2, lanes=2)
    new = reseal_private_key(sealed, PASS, "new passphrase", params=cheap2)
    assert unseal_private_key(new, "new passphrase").to_bytes() == keypair.to_bytes()
    with pytest.raises(WrongPassphraseError):
        unseal_private_key(new, PASS)
    assert sealed_key_params(new) == cheap2


def test_reseal_with_wrong_old_passphrase_fails(sealed: bytes) -> None:
    with pytest.raises(WrongPassphraseError):
        reseal_private_key(sealed, "nope", "new", params=CHEAP_ARGON2)


def test_reseal_without_params_never_weakens(
    keypair: PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    strong = Argon2Params(memory_cost=256, iterations=4, lanes=1)
    blob = seal_private_key(keypair, PASS, params=strong)
    # Pretend the installation default is cheaper in memory, dearer in time.
    cheaper_but_slower = Argon2Params(memory_cost=64, iterations=5, lanes=2)
    monkeypatch.setattr(Argon2Params, "DEFAULT", cheaper_but_slower)
    new = reseal_private_key(blob, PASS, "other")
    assert sealed_key_params(new) == Argon2Params(memory_cost=256, iterations=5, lanes=2)


def test_stored_params_are_honoured_after_default_is_raised(
    keypair: PrivateKey, sealed: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    raised = Argon2Params(memory_cost=512, iterations=2, lanes=1)
    monkeypatch.setattr(Argon2Params, "DEFAULT", raised)
    assert unseal_private_key(sealed, PASS).to_bytes() == keypair.to_bytes()
    fresh = seal_private_key(keypair, PASS)
    assert sealed_key_params(fresh) == raised


def test_default_params_are_strong_and_interactive(keypair: PrivateKey) -> None:
    default = Argon2Params.DEFAULT
    # RFC 9106 second recommended option; OWASP's floor is 19 MiB, t=2.
    assert default.memory_cost >= 64 * 1024 and default.iterations >= 3
    start = time.perf_counter()
    blob = seal_private_key(keypair, PASS)
    unseal_private_key(blob, PASS)
    per_derivation = (time.perf_counter() - start) / 2
    assert sealed_key_params(blob) == default
    assert per_derivation < 1.0, f"Argon2 default takes {per_derivation:.2f}s per login"


def test_empty_passphrase_is_refused(keypair: PrivateKey) -> None:
    with pytest.raises(CryptoError):
        seal_private_key(keypair, "", params=CHEAP_ARGON2)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"memory_cost": 7, "iterations": 1, "lanes": 1},
        {"memory_cost": 64, "iterations": 0, "lanes": 1},
        {"memory_cost": 64, "iterations": 1, "lanes": 0},
        {"memory_cost": 64, "iterations": 1, "lanes": 9},  # needs >= 8 KiB per lane
        {"memory_cost": 2**23, "iterations": 1, "lanes": 1},
        {"memory_cost": 64, "iterations": 65, "lanes": 1},
        {"memory_cost": 64.0, "iterations": 1, "lanes": 1},
    ],
)
def test_params_out_of_bounds(kwargs: dict) -> None:
    with pytest.raises(CryptoError):
        Argon2Params(**kwargs)


def test_non_str_passphrase_is_refused(keypair: PrivateKey, sealed: bytes) -> None:
    with pytest.raises(CryptoError):
        seal_private_key(keypair, b"bytes", params=CHEAP_ARGON2)  # type: ignore[arg-type]
    with pytest.raises(CryptoError):
        unseal_private_key(sealed, b"bytes")  # type: ignore[arg-type]
