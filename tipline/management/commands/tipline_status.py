"""Tell the operator whether the tip line accepts tips, and the one command that opens it."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from tipline.keyring import active_recovery_key, tipline_is_open

EDITOR_HINT = (
    "Make a staff account to read tips at /staff/ with:\n"
    "    .venv/bin/python manage.py create_editor USERNAME --admin"
)


class Command(BaseCommand):
    help = "Say whether the tip line is open, and what opens it if not."

    def handle(self, *args, **options) -> None:
        if tipline_is_open():
            recovery = active_recovery_key()
            if recovery is None:
                self.stdout.write("The tip line is open (editors only: no recovery key yet).")
            else:
                self.stdout.write(f"The tip line is open. Recovery key: {recovery.fingerprint}.")
            if not get_user_model().objects.filter(is_staff=True, is_active=True).exists():
                self.stdout.write(EDITOR_HINT)
            return
        self.stdout.write(
            self.style.WARNING(
                "The tip line is NOT open yet: no one could read a tip. Open it with:\n"
                "    .venv/bin/python manage.py create_recovery_key --output recovery.key\n"
                "and keep that file and its passphrase offline.\n" + EDITOR_HINT
            )
        )
