"""Decrypt tips with the offline recovery key into one folder per tip."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tipline.export import tip_export
from tipline.keyring import KeyringError, recovery_private_key_load
from tipline.management.secrets_input import read_passphrase
from tipline.models import RecipientKey, Tip

PASSPHRASE_ENV = "TIPLINE_RECOVERY_PASSPHRASE"  # noqa: S105 - a variable name


class Command(BaseCommand):
    help = (
        "Decrypt tips with the recovery key file: one folder per tip with the note, the links, "
        "every file under its original (filesystem-safe) name and its sanitization report."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--recovery-key", required=True, type=Path)
        parser.add_argument("--output", required=True, type=Path)
        parser.add_argument("--tip", dest="reference", help="export only this tip (its reference)")

    def handle(
        self, *args, recovery_key: Path, output: Path, reference: str | None, **options
    ) -> None:
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
        output.mkdir(mode=0o700, parents=True, exist_ok=True)
        count = 0
        for tip in tips.iterator():
            tip_export(tip=tip, recipient=recipient, private_key=private_key, output_dir=output)
            count += 1
        self.stdout.write(f"Exported {count} tip(s) to {output}.")

    def _recipient_for(self, private_key) -> RecipientKey:
        public = private_key.public_key().to_bytes()
        for candidate in RecipientKey.objects.filter(kind=RecipientKey.Kind.RECOVERY):
            if bytes(candidate.public_key) == public:
                return candidate
        raise CommandError("this recovery key does not belong to this installation")
