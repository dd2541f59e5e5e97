"""The package's public surface and its house rules."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import tipline.crypto as crypto

ROOT = Path(__file__).resolve().parents[2]

PUBLIC = {
    "CryptoError",
    "DecryptionError",
    "WrongPassphraseError",
    "new_tip_key",
    "PrivateKey",
    "PublicKey",
    "seal_private_key",
    "unseal_private_key",
    "reseal_private_key",
    "Argon2Params",
    "wrap_key",
    "unwrap_key",
    "EncryptingWriter",
    "DecryptingReader",
    "encrypt_bytes",
    "decrypt_bytes",
    "EncryptedScratchFile",
    "seal_secret",
    "open_secret",
}


def test_public_api_names_are_exported() -> None:
    assert PUBLIC <= set(crypto.__all__)
    for name in crypto.__all__:
        assert hasattr(crypto, name), name


def test_exception_hierarchy() -> None:
    assert issubclass(crypto.DecryptionError, crypto.CryptoError)
    assert issubclass(crypto.WrongPassphraseError, crypto.CryptoError)
    assert not issubclass(crypto.WrongPassphraseError, crypto.DecryptionError)


def test_keyword_only_arguments_as_documented() -> None:
    def kwonly(fn: object) -> set[str]:
        params = inspect.signature(fn).parameters.values()  # type: ignore[arg-type]
        return {p.name for p in params if p.kind is p.KEYWORD_ONLY}

    assert kwonly(crypto.wrap_key) == {"purpose", "object_id"}
    assert kwonly(crypto.unwrap_key) == {"purpose", "object_id"}
    assert kwonly(crypto.encrypt_bytes) == {"tip_key", "object_id"}
    assert kwonly(crypto.decrypt_bytes) == {"tip_key", "object_id"}
    assert kwonly(crypto.EncryptingWriter) == {"tip_key", "object_id", "chunk_size"}
    assert kwonly(crypto.DecryptingReader) == {"tip_key", "object_id"}
    assert kwonly(crypto.seal_private_key) == {"params"}
    assert kwonly(crypto.reseal_private_key) == {"params"}
    assert kwonly(crypto.seal_secret) == {"context"}
    assert kwonly(crypto.open_secret) == {"context"}


def test_importing_the_library_does_not_import_django() -> None:
    code = (
        "import sys, tipline.crypto; "
        "bad = [m for m in sys.modules if m == 'django' or m.startswith('django.')]; "
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_cryptography_is_imported_only_inside_tipline_crypto() -> None:
    offenders = []
    for folder in ("tipline", "config", "tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            if (ROOT / "tipline" / "crypto") in path.parents:
                continue
            modules = _imported_modules(path)
            if any(m == "cryptography" or m.startswith("cryptography.") for m in modules):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_crypto_package_imports_no_django() -> None:
    for path in (ROOT / "tipline" / "crypto").rglob("*.py"):
        modules = _imported_modules(path)
        assert not any(m == "django" or m.startswith("django.") for m in modules), path
