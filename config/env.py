"""Reading settings from the environment, in the style of healthchecks' ``envbool``.

Kept apart from ``settings.py`` so the helpers can be tested on their own and
so the settings module reads as a list of decisions.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path


class ConfigError(SystemExit):
    """A misconfiguration: stops the process with one readable line, no traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(f"tipline: configuration error: {message}")


def envstr(name: str, default: str) -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
    if number < 0:
        raise ConfigError(f"{name} must not be negative")
    return number


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in envstr(name, default).split(",") if item.strip()]


def _read_secret_file(name: str, path: str) -> str:
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        # Name the variable and the reason, never the content.
        raise ConfigError(f"{name}_FILE: cannot read {path}: {exc.strerror}") from None
    if not value:
        raise ConfigError(f"{name}_FILE: {path} is empty")
    return value


def secret_from_env(name: str) -> str | None:
    """``NAME`` from the environment, or the content of the file named by ``NAME_FILE``."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return _read_secret_file(name, file_path)
    return os.environ.get(name) or None


def read_or_create_secret(path: Path, nbytes: int = 50) -> str:
    """Read a generated secret from the data dir, creating it (mode 0600) on first start.

    ``O_EXCL`` makes two processes starting at once agree on one secret: the
    loser of the race reads what the winner wrote.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_existing_secret(path)
    except OSError as exc:
        raise ConfigError(f"cannot create {path}: {exc.strerror}") from None
    value = secrets.token_urlsafe(nbytes)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def _read_existing_secret(path: Path) -> str:
    # A process that lost the creation race may look before the winner wrote.
    for _attempt in range(40):
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        if value:
            return value
        time.sleep(0.05)
    raise ConfigError(f"{path} is empty; delete it to generate a new one")
