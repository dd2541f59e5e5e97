"""Tell the operator whether the tip line accepts tips and, if not, which step is missing."""

from datetime import timedelta

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.management.base import BaseCommand
from django.utils import timezone

from tipline.keyring import active_editor_exists, active_pipeline_key, active_recovery_key
from tipline.pipeline_key import pipeline_key_age
from tipline.retention.settle import next_batch_at, spool_waiting
from tipline.worker.safe_copy import sandbox_kind
from tipline.worker.sandbox import SandboxKind

SETUP_LINK_HINT = (
    "In a browser, open the set-up link (`make run` prints it below; "
    "`.venv/bin/python manage.py setup_link` prints a new one).\n"
    "Or on the command line:"
)
EDITOR_COMMAND = "    .venv/bin/python manage.py create_editor USERNAME --admin"
RECOVERY_COMMAND = (
    "    .venv/bin/python manage.py create_recovery_key --output recovery.key\n"
    "  and keep that file offline, and its passphrase apart from it."
)


def not_open_message(*, editor_missing: bool, recovery_missing: bool) -> str:
    """Which of the two steps is missing, and how to take each: the link first, then commands."""
    if editor_missing and recovery_missing:
        missing = "no one on staff could read a tip, and there is no recovery key"
    elif editor_missing:
        missing = "no one on staff could read a tip (no active editor)"
    else:
        missing = "there is no recovery key"
    commands = [EDITOR_COMMAND] if editor_missing else []
    commands += [RECOVERY_COMMAND] if recovery_missing else []
    return "\n".join([f"The tip line is NOT open yet: {missing}.", SETUP_LINK_HINT, *commands])


class Command(BaseCommand):
    help = "Say whether the tip line is open, and what opens it if not."

    def handle(self, *args, **options) -> None:
        self._open_status()
        self._pipeline_key_status()
        self._arrivals_status()
        self._sandbox_status()

    def _sandbox_status(self) -> None:
        # Which sandbox the worker's safe copies run in (tipline/worker/sandbox.py).
        if not settings.TIPLINE_SAFE_COPIES:
            self.stdout.write("Safe copies: off (TIPLINE_SAFE_COPIES).")
            return
        kind = sandbox_kind()
        if kind == SandboxKind.BUBBLEWRAP:
            self.stdout.write(
                "Safe copies: made in a bubblewrap sandbox (no network, read-only system, "
                "private temp dir in memory)."
            )
        elif kind == SandboxKind.UNSHARE:
            self.stdout.write(
                self.style.WARNING(
                    "Safe copies: made with `unshare -n` only (no network, but the system is "
                    "not read-only): install bubblewrap, or allow user namespaces, for the full "
                    "sandbox."
                )
            )
        else:
            self.stdout.write(
                self.style.WARNING(
                    "Safe copies: NOT made: neither bubblewrap nor `unshare -n` works here, and "
                    "no document is converted outside a sandbox. Install bubblewrap."
                )
            )

    def _pipeline_key_status(self) -> None:
        # Its age only (and the public fingerprint): never anything of the key itself.
        key = active_pipeline_key()
        if key is None:
            self.stdout.write(
                "No pipeline key yet: `manage.py init_pipeline_key` makes it where the worker runs."
            )
            return
        hours = settings.TIPLINE_PIPELINE_KEY_HOURS
        age = pipeline_key_age(key)
        if age is None:
            self.stdout.write(
                self.style.WARNING(
                    f"Pipeline key {key.fingerprint}: of unknown age; the next check replaces it."
                )
            )
            return
        line = (
            f"Pipeline key {key.fingerprint}: about {age // timedelta(hours=1)} hours old "
            f"(replaced every {hours} hours)."
        )
        if age > timedelta(hours=2 * hours):
            # Beat (with a broker) or the web server (without) runs the rotation.
            line += " It is overdue: is Celery beat (or, without a broker, the web server) running?"
            self.stdout.write(self.style.WARNING(line))
            return
        self.stdout.write(line)

    def _open_status(self) -> None:
        recovery = active_recovery_key()
        editor_missing = not active_editor_exists()
        if recovery is not None and not editor_missing:
            self.stdout.write(f"The tip line is open. Recovery key: {recovery.fingerprint}.")
            return
        message = not_open_message(editor_missing=editor_missing, recovery_missing=recovery is None)
        self.stdout.write(self.style.WARNING(message))

    def _arrivals_status(self) -> None:
        # Counts only (docs/arrivals.md): what waits, and when the batch takes it.
        when = next_batch_at(timezone.now())
        self.stdout.write(
            f"Arrivals: {spool_waiting()} blob(s) wait in the spool; the next batch at "
            f"{when:%H:%M} UTC (every {settings.TIPLINE_ARRIVAL_BATCH_MINUTES} minutes)."
        )
        if isinstance(caches["default"], LocMemCache):
            self.stdout.write(
                self.style.WARNING(
                    "No memory file system (/dev/shm): each web process keeps its own flood "
                    "counters and marks of used forms, so a form sent twice to two processes "
                    "can make two tips. Set CACHE_URL to a Redis server."
                )
            )
