"""Create the installation's recovery key; its private half leaves as a sealed file."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tipline.audit import COMMAND_LINE_ACTOR
from tipline.keyring import (
    KeyringError,
    recovery_key_create,
    recovery_private_key_load,
    tipline_is_open,
)
from tipline.management.secrets_input import read_passphrase
from tipline.private_files import private_file_write
from tipline.setup.services import setup_link_retire_if_complete

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
            created = recovery_key_create(
                actor=COMMAND_LINE_ACTOR,
                passphrase=passphrase,
                rotate=rotate,
                old_private_key=old_private_key,
                deliver=lambda armored: private_file_write(output, armored),
            )
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
        setup_link_retire_if_complete()  # the set-up page's link stops working once it is open
        if tipline_is_open():
            self.stdout.write("The tip line is open.")
        else:
            self.stdout.write(
                "The tip line opens once an editor exists: manage.py create_editor USERNAME "
                "--admin (or the set-up link)."
            )

    def _load(self, path: Path, passphrase: str):
        try:
            return recovery_private_key_load(path=path, passphrase=passphrase)
        except KeyringError as exc:
            raise CommandError(str(exc)) from None
