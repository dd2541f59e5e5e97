"""Fixtures shared by the whole suite: a private blob store and the installation's keys."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tipline.audit import COMMAND_LINE_ACTOR
from tipline.crypto import PrivateKey

RECOVERY_PASSPHRASE = "correct horse battery staple"


@pytest.fixture(autouse=True, scope="session")
def memory_cache_folders_removed():
    """Servers the tests start on fresh data dirs each make a cache folder in /dev/shm
    (tipline/intake/cache.py); the ones this run made go with it."""
    import shutil

    shared_memory = Path("/dev/shm")  # noqa: S108 - the memory file system the cache uses
    before = set(shared_memory.glob("tipline-*")) if shared_memory.is_dir() else set()
    yield
    if shared_memory.is_dir():
        for folder in set(shared_memory.glob("tipline-*")) - before:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True, scope="session")
def collected_static_files():
    """`collectstatic` once per run, into the run's own STATIC_ROOT (tests/settings.py),
    as `make run` and a release do: pages link the hashed names WhiteNoise serves."""
    import shutil

    from django.conf import settings
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.management import call_command

    call_command("collectstatic", "--noinput", verbosity=0)
    # pytest-django's live server (the browser tests) would answer /static/ itself,
    # from the source tree, where hashed names do not exist: let WhiteNoise answer,
    # with production's headers.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(StaticFilesHandler, "_should_handle", lambda self, path: False)
        yield
    static_root = Path(settings.STATIC_ROOT)
    if static_root.name.startswith("tipline-test-static-"):
        shutil.rmtree(static_root, ignore_errors=True)


@pytest.fixture(autouse=True)
def cheap_editor_keys(monkeypatch) -> None:
    """Staff accounts are made in many tests: 8 MiB of Argon2id instead of 64 keeps the
    suite fast. The sealed key records its parameters, so nothing else differs."""
    from tipline.crypto import Argon2Params

    monkeypatch.setattr(
        "tipline.accounts.services.EDITOR_KEY_ARGON2",
        Argon2Params(memory_cost=8 * 1024, iterations=1, lanes=1),
    )


@pytest.fixture(autouse=True)
def blob_storage(tmp_path: Path, settings) -> Path | None:
    """Every test gets its own empty blob folder; the integration suite keeps its S3 storage."""
    if settings.TIPLINE_STORAGE != "local":
        return None
    location = tmp_path / "blobs"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "tipline.storage.BlobFileSystemStorage",
            "OPTIONS": {
                "location": str(location),
                "file_permissions_mode": 0o600,
                "directory_permissions_mode": 0o700,
            },
        },
    }
    return location


@pytest.fixture
def pipeline_key(db, tmp_path: Path, settings):
    from tipline.keyring import pipeline_key_ensure, pipeline_private_key

    settings.TIPLINE_PIPELINE_KEY_FILE = tmp_path / "pipeline.key"
    pipeline_private_key.cache_clear()
    recipient = pipeline_key_ensure(actor=COMMAND_LINE_ACTOR)
    yield recipient
    pipeline_private_key.cache_clear()


@dataclass
class RecoveryKey:
    recipient: object
    private_key: PrivateKey
    path: Path
    passphrase: str = RECOVERY_PASSPHRASE


@pytest.fixture
def recovery_key(db, tmp_path: Path, monkeypatch) -> RecoveryKey:
    from tipline.crypto import Argon2Params
    from tipline.keyring import recovery_key_create, recovery_private_key_load

    # The real cost (256 MiB of Argon2id, twice) is for a key that leaves the
    # server; tests that only need a recovery key to exist pay 8 MiB. The
    # sealed file records its parameters, so nothing else differs.
    # tests/test_recovery_and_export.py runs the command at the real cost.
    monkeypatch.setattr(
        "tipline.keyring.RECOVERY_KEY_ARGON2",
        Argon2Params(memory_cost=8 * 1024, iterations=1, lanes=1),
    )

    created = recovery_key_create(
        actor=COMMAND_LINE_ACTOR, deliver=lambda armored: None, passphrase=RECOVERY_PASSPHRASE
    )
    path = tmp_path / "recovery.key"
    path.write_text(created.armored_private_key, encoding="ascii")
    private_key = recovery_private_key_load(path=path, passphrase=RECOVERY_PASSPHRASE)
    # The tip line opens only with a recovery key and an active editor (#16):
    # tests that ask for a recovery key to open it get a reader on staff too.
    tipline_reader_create()
    return RecoveryKey(created.recipient, private_key, path)


TIPLINE_READER = "fixture-reader"


def tipline_reader_create():
    """A staff account with an active editor key and nothing else (no second factor, no
    password that signs in, no audit entry): what the tip line needs to be open, and no more.
    Tests that sign in make their own accounts (tests/triage/helpers.py)."""
    from django.contrib.auth import get_user_model

    from tipline.accounts.keys import editor_key_new, editor_key_register
    from tipline.crypto import Argon2Params

    user = get_user_model().objects.create_user(username=TIPLINE_READER, is_staff=True)
    cheap = Argon2Params(memory_cost=8 * 1024, iterations=1, lanes=1)
    editor_key_register(user=user, new=editor_key_new(password="unused", params=cheap))
    return user


@pytest.fixture
def recovery_key_present(db, request) -> None:
    """A recovery key exists, as on any tip line that is open (#16: it opens only with a
    recovery key and an editor). Staff fixtures ask for it, so tests that make tips with
    their editors alone keep working. The test's own ``recovery_key`` when it asks for one;
    otherwise a bare public key, with no audit entry and no file (no test reads with it)."""
    if "recovery_key" in request.fixturenames:
        request.getfixturevalue("recovery_key")
        return
    from tipline.keyring import active_recovery_key, recipient_key_register
    from tipline.models import RecipientKey

    if active_recovery_key() is None:
        recipient_key_register(
            kind=RecipientKey.Kind.RECOVERY, public_key=PrivateKey.generate().public_key()
        )


@pytest.fixture
def open_tipline(recovery_key: RecoveryKey, pipeline_key) -> RecoveryKey:
    """A tip line ready to accept tips: a recovery key and a pipeline key exist."""
    return recovery_key


def all_files_under(*roots: Path) -> list[Path]:
    found = []
    for root in roots:
        for folder, _dirs, files in os.walk(root):
            found.extend(Path(folder) / name for name in files)
    return found
