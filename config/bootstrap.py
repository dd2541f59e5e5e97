"""The one start-up step that writes: the data directory and the generated secret key.

Importing the settings reads the environment and writes nothing. Every entry
point (``manage.py``, ``config/wsgi.py``, ``config/asgi.py``, and
``config/celery.py`` for ``celery -A config``) calls ``prepare_data_dir()``
before Django loads the settings. On first start it makes:

- ``TIPLINE_DATA_DIR``, mode 0700: SQLite, blobs and generated secrets live here;
- its ``cache`` folder, 0700, unless ``CACHE_URL`` names another cache;
- ``secret_key``, 0600, unless ``SECRET_KEY`` (or ``SECRET_KEY_FILE``) is set.

Every process runs it (each web worker, each Celery worker), so it is
idempotent and safe to race: ``O_EXCL`` lets exactly one process create the
key, and the others leave it alone. Nothing here imports Django.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from config.env import ConfigError, envstr, secret_configured

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY_FILE_NAME = "secret_key"  # noqa: S105 - a file name, not a secret
CACHE_DIR_NAME = "cache"
_SECRET_KEY_BYTES = 50


def data_dir() -> Path:
    """``TIPLINE_DATA_DIR`` as an absolute path; ``var/`` in the checkout by default."""
    return Path(envstr("TIPLINE_DATA_DIR", str(BASE_DIR / "var"))).resolve()


def prepare_data_dir() -> Path:
    """Create what the settings expect in the data dir, if it is not there yet; return the dir."""
    folder = data_dir()
    _private_dir_ensure(folder)
    if not secret_configured("CACHE_URL"):
        _private_dir_ensure(folder / CACHE_DIR_NAME)
    if not secret_configured("SECRET_KEY"):
        _secret_file_ensure(folder / SECRET_KEY_FILE_NAME)
    return folder


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
