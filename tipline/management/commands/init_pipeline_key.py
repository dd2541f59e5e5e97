"""Create the pipeline key on the worker host (idempotent) and register its public half."""

from django.core.management.base import BaseCommand, CommandError

from tipline.audit import COMMAND_LINE_ACTOR
from tipline.keyring import KeyringError, pipeline_key_ensure


class Command(BaseCommand):
    help = "Create the worker's pipeline key if missing and register it. Run where the worker runs."

    def handle(self, *args, **options) -> None:
        try:
            recipient = pipeline_key_ensure(actor=COMMAND_LINE_ACTOR)
        except KeyringError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Pipeline key {recipient.fingerprint} is ready.")
