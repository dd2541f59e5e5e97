"""Tell the operator whether the tip line accepts tips, and the one command that opens it."""

from django.core.management.base import BaseCommand

from tipline.keyring import active_recovery_key, tipline_is_open


class Command(BaseCommand):
    help = "Say whether the tip line is open, and what opens it if not."

    def handle(self, *args, **options) -> None:
        if tipline_is_open():
            recovery = active_recovery_key()
            if recovery is None:
                self.stdout.write("The tip line is open (editors only: no recovery key yet).")
            else:
                self.stdout.write(f"The tip line is open. Recovery key: {recovery.fingerprint}.")
            return
        self.stdout.write(
            self.style.WARNING(
                "The tip line is NOT open yet: no one could read a tip. Open it with:\n"
                "    .venv/bin/python manage.py create_recovery_key --output recovery.key\n"
                "and keep that file and its passphrase offline."
            )
        )
