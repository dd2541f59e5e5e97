"""Print the first-run page's one-time link while set-up is not done (`make run` calls it)."""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand

from tipline.setup.services import setup_link_retire_if_complete
from tipline.setup.token import setup_token_issue

# Addresses a server listens on but a browser cannot open.
_EVERY_ADDRESS = {"", "0.0.0.0", "::", "[::]"}  # noqa: S104 - compared with, not bound


def setup_url(token: str) -> str:
    """Where ``python -m config.server`` answers (HOST and PORT, as config/server.py reads them)."""
    host = os.environ.get("HOST", "").strip()
    if host in _EVERY_ADDRESS:
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = os.environ.get("PORT", "").strip() or "8000"
    return f"http://{host}:{port}/setup/{token}/"


class Command(BaseCommand):
    help = (
        "While the tip line is not set up, print a new one-time link to the page that makes the "
        "first admin and the recovery key (any earlier link stops working). Prints nothing "
        "once set-up is done."
    )

    def handle(self, *args, **options) -> None:
        if setup_link_retire_if_complete():
            return
        url = setup_url(setup_token_issue())
        self.stdout.write(
            "Set up the tip line in a browser on this machine (the link works until set-up "
            "is done; keep it to yourself):"
        )
        self.stdout.write(self.style.SUCCESS(f"    {url}"))
