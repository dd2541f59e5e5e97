"""Reading passphrases for management commands: from the environment or a prompt, never argv.

A passphrase on the command line would land in shell history and in the
process list; an environment variable or a terminal prompt does not.
"""

from __future__ import annotations

import getpass
import os
import sys

from django.core.management.base import CommandError

from tipline.passphrases import MIN_PASSPHRASE_CHARS


def read_passphrase(env_name: str, *, prompt: str, confirm: bool) -> str:
    value = os.environ.get(env_name)
    if value is None:
        value = _prompt(env_name, prompt=prompt, confirm=confirm)
    if confirm and len(value) < MIN_PASSPHRASE_CHARS:
        raise CommandError(f"the passphrase must have at least {MIN_PASSPHRASE_CHARS} characters")
    if not value:
        raise CommandError("the passphrase is empty")
    return value


def _prompt(env_name: str, *, prompt: str, confirm: bool) -> str:
    if not sys.stdin.isatty():
        raise CommandError(f"no terminal to ask for the passphrase: set {env_name}")
    first = getpass.getpass(f"{prompt}: ")
    if confirm and getpass.getpass("Repeat it: ") != first:
        raise CommandError("the two passphrases differ")
    return first
