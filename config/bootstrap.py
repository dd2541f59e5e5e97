"""The one start-up step that writes: the data directory and the generated secret key.

Importing the settings reads the environment and writes nothing. Every entry
point (``manage.py``, ``config/wsgi.py``, ``config/asgi.py``, and
``config/celery.py`` for ``celery -A config``) calls ``prepare_data_dir()``
before Django loads the settings. On first start it makes:

- ``TIPLINE_DATA_DIR``, mode 0700: SQLite, blobs and generated secrets live here;
- ``secret_key``, 0600, unless ``SECRET_KEY`` (or ``SECRET_KEY_FILE``) is set;
- ``second_factor_key``, 0600, unless ``TIPLINE_SECOND_FACTOR_KEY`` (or its
  ``_FILE``) is set: it seals staff authenticator secrets, and is kept out of
  the database so that a dump alone opens none.

Every process runs it (each web worker, each Celery worker), so it is
idempotent and safe to race: ``O_EXCL`` lets exactly one process create the
key, and the others leave it alone. Nothing here imports Django.

It first narrows the process's umask to 0o077 (``process_umask_restrict``):
much of what a process creates is not made by our code with a mode of its
own (SQLite's database and its -wal/-shm/-journal files, the parents of a
folder made with ``mkdir -p``, Django's cache and uploads), and the umask is
what decides their mode. With it, everything is 0600 and every folder 0700.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from config.env import ConfigError, envstr, secret_configured

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY_FILE_NAME = "secret_key"  # noqa: S105 - a file name, not a secret
SECOND_FACTOR_KEY_FILE_NAME = "second_factor_key"
_SECRET_KEY_BYTES = 50
# Group and others get nothing of what the tip line's processes create.
PRIVATE_UMASK = 0o077


def data_dir() -> Path:
    """``TIPLINE_DATA_DIR`` as an absolute path; ``var/`` in the checkout by default."""
    return Path(envstr("TIPLINE_DATA_DIR", str(BASE_DIR / "var"))).resolve()


def prepare_data_dir() -> Path:
    """Create what the settings expect in the data dir, if it is not there yet; return the dir."""
    process_umask_restrict()
    folder = data_dir()
    _private_dir_ensure(folder)
    if not secret_configured("SECRET_KEY"):
        _secret_file_ensure(folder / SECRET_KEY_FILE_NAME)
    if not secret_configured("TIPLINE_SECOND_FACTOR_KEY"):
        _secret_file_ensure(folder / SECOND_FACTOR_KEY_FILE_NAME)
    return folder


def process_umask_restrict() -> None:
    """From now on, this process (and what it starts) creates nothing group or others can read.

    Only ever narrows: an operator's stricter umask is kept.
    """
    previous = os.umask(PRIVATE_UMASK)
    os.umask(previous | PRIVATE_UMASK)


def _private_dir_ensure(path: Path) -> None:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the data directory {path}: {exc.strerror}") from None


def _secret_file_ensure(path: Path) -> None:
    # O_NOFOLLOW: a symlink planted in the data dir is not followed; O_EXCL: an
    # existing file (or one a process starting alongside just made) is kept.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        descriptor = os.open(path, flags, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise ConfigError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_urlsafe(_SECRET_KEY_BYTES) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
