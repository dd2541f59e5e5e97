"""Replace the worker's pipeline key now and destroy the old private half. Run where it is."""

from django.core.management.base import BaseCommand, CommandError

from tipline.audit import COMMAND_LINE_ACTOR
from tipline.keyring import KeyringError
from tipline.pipeline_key import pipeline_key_rotate


class Command(BaseCommand):
    help = (
        "Replace the pipeline key now (it also rotates by itself every "
        "TIPLINE_PIPELINE_KEY_HOURS) and destroy the old one. Run where the worker runs."
    )

    def handle(self, *args, **options) -> None:
        try:
            rotated = pipeline_key_rotate(actor=COMMAND_LINE_ACTOR)
        except KeyringError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Pipeline key {rotated.recipient.fingerprint} replaces "
            f"{rotated.previous_fingerprint}, whose private half is destroyed. "
            f"Files still being cleaned: {rotated.grants_moved} tips moved to the new key."
        )
