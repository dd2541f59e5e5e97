"""Create the installation's recovery key; its private half leaves as a sealed file."""

from __future__ import annotations

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tipline.keyring import KeyringError, recovery_key_create, recovery_private_key_load
from tipline.management.secrets_input import read_passphrase

PASSPHRASE_ENV = "TIPLINE_RECOVERY_PASSPHRASE"  # noqa: S105 - a variable name
OLD_PASSPHRASE_ENV = "TIPLINE_OLD_RECOVERY_PASSPHRASE"  # noqa: S105


class Command(BaseCommand):
    help = (
        "Create the recovery key. The private half is written to --output, sealed under a "
        f"passphrase (asked for, or {PASSPHRASE_ENV}). Keep that file offline: with it, "
        "export_tips can decrypt every tip."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--output", required=True, type=Path, help="where to write the sealed key"
        )
        parser.add_argument(
            "--rotate", action="store_true", help="replace the existing recovery key"
        )
        parser.add_argument(
            "--old-key",
            type=Path,
            help=f"with --rotate: the current key file, to grant every existing tip to the new key "
            f"(passphrase asked for, or {OLD_PASSPHRASE_ENV})",
        )

    def handle(self, *args, output: Path, rotate: bool, old_key: Path | None, **options) -> None:
        if output.exists():
            raise CommandError(f"{output} already exists; choose another file")
        old_private_key = None
        if old_key is not None:
            if not rotate:
                raise CommandError("--old-key only goes with --rotate")
            old_pass = read_passphrase(
                OLD_PASSPHRASE_ENV, prompt="Passphrase of the old key", confirm=False
            )
            old_private_key = self._load(old_key, old_pass)
        passphrase = read_passphrase(
            PASSPHRASE_ENV, prompt="New passphrase for the recovery key", confirm=True
        )
        try:
            # One transaction: if the file cannot be written, no key is registered
            # whose private half would be lost.
            with transaction.atomic():
                created = recovery_key_create(
                    passphrase=passphrase, rotate=rotate, old_private_key=old_private_key
                )
                _write_private_file(output, created.armored_private_key)
        except KeyringError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc.strerror}") from None
        self.stdout.write(f"Recovery key {created.recipient.fingerprint} created.")
        self.stdout.write(
            f"The sealed private key is in {output}: move it offline, then delete it here."
        )
        if rotate:
            self.stdout.write(
                f"{created.regranted_tips} existing tips were granted to the new key."
            )
        self.stdout.write("The tip line is open.")

    def _load(self, path: Path, passphrase: str):
        try:
            return recovery_private_key_load(path=path, passphrase=passphrase)
        except KeyringError as exc:
            raise CommandError(str(exc)) from None


def _write_private_file(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)
