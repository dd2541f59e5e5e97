"""Create the pipeline key on the worker host (idempotent) and register its public half."""

from django.core.management.base import BaseCommand

from tipline.audit import COMMAND_LINE_ACTOR
from tipline.keyring import pipeline_key_ensure


class Command(BaseCommand):
    help = "Create the worker's pipeline key if missing and register it. Run where the worker runs."

    def handle(self, *args, **options) -> None:
        recipient = pipeline_key_ensure(actor=COMMAND_LINE_ACTOR)
        self.stdout.write(f"Pipeline key {recipient.fingerprint} is ready.")
