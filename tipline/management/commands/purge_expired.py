"""Delete every tip whose retention period is over (the daily run does the same)."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tipline.retention.purge import purge_today, tips_due_for_purge, tips_purge_expired


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--as-of must be a date as YYYY-MM-DD, not {value!r}") from None


class Command(BaseCommand):
    help = (
        "Delete every tip whose retention period is over: its grants first (it is unreadable "
        "from then on), then every stored blob, then its rows, with an audit entry each. "
        "Tips under legal hold are kept. Safe to run again; a purge cut off is finished."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="list what would be deleted (reference, status, deletion date); change nothing",
        )
        parser.add_argument(
            "--as-of",
            metavar="YYYY-MM-DD",
            help="act as if today were this day (UTC) instead of today",
        )

    def handle(self, *args, dry_run: bool, as_of: str | None, **options) -> None:
        day = _day(as_of) if as_of else purge_today()
        if dry_run:
            self._list(day)
            return
        if day > purge_today():
            self.stderr.write(
                f"Deleting as if today were {day.isoformat()}: tips go before their date."
            )
        summary = tips_purge_expired(as_of=day)
        self.stdout.write(
            f"Deleted {summary.tips_deleted} tip(s) and {summary.blobs_deleted} stored blob(s)."
        )
        if summary.tips_pending:
            self.stderr.write(
                f"{summary.tips_pending} tip(s) are unreadable already, but the storage did not "
                "delete one of their blobs: the next run retries (see the log)."
            )

    def _list(self, day: date) -> None:
        due = tips_due_for_purge(as_of=day)
        for tip in due:
            note = "  (purge begun: finishing)" if tip.purging else ""
            self.stdout.write(
                f"{tip.reference}  {tip.status:<10}  {tip.deletion_date.isoformat()}{note}"
            )
        self.stdout.write(
            f"{len(due)} tip(s) would be deleted as of {day.isoformat()} "
            "(dry run: nothing changed)."
        )
