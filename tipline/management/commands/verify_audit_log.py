"""Check the audit log's hash chain; exit non-zero at the first broken entry."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from tipline.audit import GENESIS_HASH, audit_verify
from tipline.models import AuditEntry


class Command(BaseCommand):
    help = (
        "Verify the audit log's hash chain. Prints the number of entries and the last hash: "
        "keep that hash off the server, and pass it back with --pinned later to prove no "
        "entry up to it was removed or rewritten since (the chain alone cannot show that the "
        "newest entries were cut off, or that the whole table was rebuilt)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--pinned",
            metavar="HASH",
            action="append",
            default=[],
            help="a last hash printed earlier; fail unless it is still in the chain "
            "(may be given more than once)",
        )

    def handle(self, *args, pinned: list[str], **options) -> None:
        # Read before the walk, so the hash printed is one the walk covered.
        last = AuditEntry.objects.order_by("-id").values_list("entry_hash", flat=True).first()
        check = audit_verify()
        if not check.intact:
            raise CommandError(
                f"audit log BROKEN: entry {check.first_broken_id} {check.reason} "
                f"({check.entries - 1} entries before it verify; it and every later entry "
                "cannot be trusted)"
            )
        for wanted in pinned:
            # An intact chain holding the pinned hash holds, unchanged, every entry before it.
            if wanted.strip().lower() == GENESIS_HASH:
                continue  # pinned while the log was empty: pins nothing
            if not AuditEntry.objects.filter(entry_hash=wanted.strip().lower()).exists():
                raise CommandError(
                    f"audit log BROKEN: the pinned hash {wanted} is no longer in the chain; "
                    "entries up to it were removed or rewritten"
                )
        self.stdout.write(
            f"audit log intact: {check.entries} entries, last hash {last or GENESIS_HASH}"
        )
        if pinned:
            self.stdout.write(f"pinned hashes found: {len(pinned)}")
