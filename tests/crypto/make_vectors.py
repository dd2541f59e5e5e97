"""Generate the known-answer vectors in tests/crypto/vectors/ (run once).

    .venv/bin/python -m tests.crypto.make_vectors [--force]

The vectors pin the byte formats of docs/crypto.md: test_vectors.py checks
that today's code still *decrypts* every stored vector and, where the format
is deterministic given its randomness, that encrypting with the same injected
randomness reproduces the stored bytes exactly.  A change to any format
therefore fails the suite.  Regenerating them is a format change: bump the
format's version byte instead, and keep the old vectors decrypting.

Randomness is injected only through the private ``_*_with*`` functions, which
exist for this purpose alone.  HPKE encapsulation cannot be made
deterministic through the public API, so the wrapped-key vector stores a
wrapped blob and the private key that opens it; rerunning this script makes
a different (equally valid) blob, which is why it refuses to overwrite.

All inputs are derived from fixed labels with SHA-256 so they are obviously
not real keys: never reuse these values anywhere.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from tipline.crypto import Argon2Params, PrivateKey, wrap_key
from tipline.crypto.passphrase import _seal_with
from tipline.crypto.secretbox import _seal_secret_with
from tipline.crypto.stream import _encrypt_bytes_with_salt
from tipline.crypto.stream_format import derive_stream_key

VECTORS = Path(__file__).resolve().parent / "vectors"


def fixed(label: str, n: int) -> bytes:
    """n deterministic bytes from a label (SHA-256 in counter mode)."""
    out = b""
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"tipline test vector {label} {counter}".encode()).digest()
        counter += 1
    return out[:n]


def vector_private_key() -> PrivateKey:
    return PrivateKey.from_bytes(b"\x01" + fixed("private key", 96))


STREAM_CASES = [
    # (name, plaintext length, chunk size, object_id)
    ("empty", 0, 64, "tip/v1/file/empty/raw"),
    ("one-byte", 1, 64, "tip/v1/file/one/raw"),
    ("exact-chunk", 64, 64, "tip/v1/file/exact/raw"),
    ("three-chunks-partial", 150, 64, "tip/v1/file/partial/raw"),
    ("two-chunks-exact", 128, 64, "tip/v1/file/two/raw"),
    ("default-chunk-size", 200, 65536, "tip/v1/note/ñandú/content"),
]


def stream_vectors() -> dict[str, Any]:
    tip_key = fixed("tip key", 32)
    cases = []
    for name, length, chunk_size, object_id in STREAM_CASES:
        salt = fixed(f"salt {name}", 32)
        plaintext = fixed(f"plaintext {name}", length)
        blob = _encrypt_bytes_with_salt(
            plaintext, tip_key=tip_key, object_id=object_id, salt=salt, chunk_size=chunk_size
        )
        aes_key, prefix = derive_stream_key(tip_key, salt, object_id.encode())
        cases.append(
            {
                "name": name,
                "object_id": object_id,
                "chunk_size": chunk_size,
                "salt": salt.hex(),
                "plaintext": plaintext.hex(),
                "derived_key": aes_key.hex(),
                "nonce_prefix": prefix.hex(),
                "ciphertext": blob.hex(),
            }
        )
    return {"format": "tipline stream v1", "tip_key": tip_key.hex(), "cases": cases}


def sealed_key_vector() -> dict[str, Any]:
    key = vector_private_key()
    params = Argon2Params(memory_cost=256, iterations=2, lanes=2)
    # Decomposed "ñ" (n + U+0303): the stored blob must open with the NFC form.
    passphrase = "contrasen\u0303a de prueba"
    salt, nonce = fixed("argon2 salt", 16), fixed("argon2 nonce", 12)
    sealed = _seal_with(key, passphrase, params=params, salt=salt, nonce=nonce)
    return {
        "format": "tipline sealed private key v1",
        "private_key": key.to_bytes().hex(),
        "passphrase_nfd": passphrase,
        "passphrase_nfc": "contrase\u00f1a de prueba",
        "params": {"memory_cost": 256, "iterations": 2, "lanes": 2},
        "salt": salt.hex(),
        "nonce": nonce.hex(),
        "sealed": sealed.hex(),
    }


def wrapped_key_vector() -> dict[str, Any]:
    key = vector_private_key()
    public = key.public_key()
    tip_key = fixed("wrapped tip key", 32)
    purpose, object_id = "tip-key", "0b7e1f0e-6c1e-4d8a-9a57-3f1d2a7c9b10"
    return {
        "format": "tipline wrapped key v1 (HPKE MLKEM768-X25519, HKDF-SHA256, AES-256-GCM)",
        "private_key": key.to_bytes().hex(),
        "public_key": public.to_bytes().hex(),
        "fingerprint": public.fingerprint(),
        "purpose": purpose,
        "object_id": object_id,
        "key": tip_key.hex(),
        "wrapped": wrap_key(tip_key, public, purpose=purpose, object_id=object_id).hex(),
    }


def secret_vector() -> dict[str, Any]:
    key, nonce = fixed("session key", 32), fixed("secret nonce", 12)
    plaintext, context = fixed("secret plaintext", 97), "session-private-key"
    return {
        "format": "tipline sealed secret v1",
        "key": key.hex(),
        "context": context,
        "nonce": nonce.hex(),
        "plaintext": plaintext.hex(),
        "sealed": _seal_secret_with(key, plaintext, context=context, nonce=nonce).hex(),
    }


GENERATORS = {
    "stream_v1.json": stream_vectors,
    "sealed_key_v1.json": sealed_key_vector,
    "wrapped_key_v1.json": wrapped_key_vector,
    "secret_v1.json": secret_vector,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="overwrite existing vectors")
    args = parser.parse_args()
    VECTORS.mkdir(exist_ok=True)
    for name, generate in GENERATORS.items():
        path = VECTORS / name
        if path.exists() and not args.force:
            print(f"{path} exists; not overwriting (use --force for a deliberate format change)")
            continue
        path.write_text(json.dumps(generate(), indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
