"""Create the pipeline key on the worker host (idempotent) and register its public half."""

from django.core.management.base import BaseCommand

from tipline.keyring import pipeline_key_ensure


class Command(BaseCommand):
    help = "Create the worker's pipeline key if missing and register it. Run where the worker runs."

    def handle(self, *args, **options) -> None:
        recipient = pipeline_key_ensure()
        self.stdout.write(f"Pipeline key {recipient.fingerprint} is ready.")
