"""Reading settings from the environment, in the style of healthchecks' ``envbool``.

Kept apart from ``settings.py`` so the helpers can be tested on their own and
so the settings module reads as a list of decisions. Every helper checks what
it reads: a malformed or out-of-range value raises ``ConfigError`` with one
line naming the variable.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
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


def envint(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    """A whole number from ``minimum`` to ``maximum`` (both included; no upper bound if None)."""
    value = os.environ.get(name)
    if value is None or value == "":
        number = default
    else:
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
    if maximum is not None and not minimum <= number <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, not {number}")
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {number}")
    return number


def envchoice(name: str, default: str, choices: Sequence[str], *, ignore_case: bool = False) -> str:
    """One of ``choices``, returned as spelled there (an empty value means the default)."""
    value = os.environ.get(name) or default
    for choice in choices:
        if value == choice or (ignore_case and value.lower() == choice.lower()):
            return choice
    quoted = [repr(choice) for choice in choices]
    allowed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    raise ConfigError(f"{name} must be {allowed}, not {value!r}")


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


def secret_configured(name: str) -> bool:
    """Whether ``secret_from_env(name)`` has something to read (without reading it)."""
    return bool(os.environ.get(f"{name}_FILE") or os.environ.get(name))


def read_generated_secret(path: Path) -> str | None:
    """A secret ``config.bootstrap`` generated into the data dir, or None if there is none yet.

    A process starting alongside the one that creates the file may find it
    still empty (``O_EXCL`` creates it before the value is written): wait a
    moment for the value rather than fail.
    """
    for _attempt in range(40):
        try:
            value = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        if value:
            return value
        time.sleep(0.05)
    raise ConfigError(f"{path} is empty; delete it to generate a new one")
