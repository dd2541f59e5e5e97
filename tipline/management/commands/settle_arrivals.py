"""Run one arrivals' batch now: whatever waits in the spool goes to storage (docs/arrivals.md)."""

from django.core.management.base import BaseCommand, CommandError

from tipline.retention.settle import arrivals_settle


class Command(BaseCommand):
    help = (
        "Move every blob waiting in the spool into storage now, in a random order, as new "
        "files or objects, and set this host's file times back to their window."
    )

    def handle(self, *args, **options) -> None:
        summary = arrivals_settle()
        if summary is None:
            raise CommandError("A batch is running already (another process or host); try later.")
        # Counts only: no names, nothing of any tip.
        self.stdout.write(
            f"Settled {summary.settled} blob(s); {summary.forgotten} stored copy(ies) deleted "
            f"on an arrival's behalf; {summary.waiting} arrived during the batch and wait for "
            "the next one."
        )
        if summary.refused:
            raise CommandError(
                f"The storage refused {summary.refused} step(s); the next batch tries again."
            )
