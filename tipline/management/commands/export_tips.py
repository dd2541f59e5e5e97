"""Decrypt tips with the offline recovery key into one folder per tip."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from tipline.export import ExportError, tip_export
from tipline.keyring import KeyringError, recovery_private_key_load
from tipline.management.secrets_input import read_passphrase
from tipline.models import RecipientKey, Tip

PASSPHRASE_ENV = "TIPLINE_RECOVERY_PASSPHRASE"  # noqa: S105 - a variable name


class Command(BaseCommand):
    help = (
        "Decrypt tips with the recovery key file into a new folder: one folder per tip with "
        "the note, the links, every file under its original (filesystem-safe) name and its "
        "sanitization report. The output folder must not exist yet."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--recovery-key", required=True, type=Path)
        parser.add_argument(
            "--output", required=True, type=Path, help="a folder that does not exist yet"
        )
        parser.add_argument("--tip", dest="reference", help="export only this tip (its reference)")

    def handle(
        self, *args, recovery_key: Path, output: Path, reference: str | None, **options
    ) -> None:
        # A new folder, made here and readable by this user only: nothing in it
        # was put there by anyone else (a link, a file to write into).
        if output.exists() or output.is_symlink():
            raise CommandError(f"{output} already exists: give a folder that does not exist yet")
        passphrase = read_passphrase(
            PASSPHRASE_ENV, prompt="Recovery key passphrase", confirm=False
        )
        try:
            private_key = recovery_private_key_load(path=recovery_key, passphrase=passphrase)
        except KeyringError as exc:
            raise CommandError(str(exc)) from None
        recipient = self._recipient_for(private_key)
        tips = Tip.objects.filter(grants__recipient=recipient).order_by("id")
        if reference:
            tips = tips.filter(reference=reference.strip().upper())
            if not tips.exists():
                raise CommandError("no tip with that reference is granted to this recovery key")
        try:
            output.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            raise CommandError(f"{output} already exists: give a folder that does not") from None
        count = 0
        # The reports and labels in the installation's language, whatever ran before.
        with translation.override(settings.LANGUAGE_CODE):
            for tip in tips.iterator():
                try:
                    tip_export(
                        tip=tip, recipient=recipient, private_key=private_key, output_dir=output
                    )
                except ExportError as exc:
                    raise CommandError(str(exc)) from None
                count += 1
        self.stdout.write(f"Exported {count} tip(s) to {output}.")

    def _recipient_for(self, private_key) -> RecipientKey:
        public = private_key.public_key().to_bytes()
        for candidate in RecipientKey.objects.filter(kind=RecipientKey.Kind.RECOVERY):
            if bytes(candidate.public_key) == public:
                return candidate
        raise CommandError("this recovery key does not belong to this installation")
