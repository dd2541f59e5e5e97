"""A new tip's grants racing a key's replacement (a pipeline key rotation, a password change).

The tip's transaction reads the active keys, then pauses before it grants to
the one being replaced, long enough for the replacement to commit in between
if nothing holds it back. On PostgreSQL only rows locks decide the outcome.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

from django.db import connection, transaction
from django.utils import timezone

from tipline import keyring
from tipline.crypto import new_tip_key
from tipline.keyring import grants_create_for_new_tip
from tipline.models import Tip


def tip_created_while(
    replace: Callable[[], object], *, paused_at: str, include_pipeline: bool, monkeypatch
) -> tuple[Tip, bytes]:
    """Create a tip in one thread and run ``replace`` in another between its read and its grant
    to a key of kind ``paused_at``; the tip and its key once both are done."""
    tip_key = new_tip_key()
    read_the_keys = threading.Event()
    replacement_over = threading.Event()
    errors: list[BaseException] = []
    real_grant_create = keyring.grant_create

    def grant_after_a_pause(*, tip, recipient, tip_key):
        if recipient.kind == paused_at:
            read_the_keys.set()
            # Give the replacement every chance to commit between the read and the grant.
            replacement_over.wait(timeout=3)
        return real_grant_create(tip=tip, recipient=recipient, tip_key=tip_key)

    monkeypatch.setattr(keyring, "grant_create", grant_after_a_pause)

    def create_tip() -> None:
        try:
            with transaction.atomic():
                tip = Tip.objects.create(
                    key_id=uuid.uuid4(), received_on=timezone.now(), content_sealed=b"x"
                )
                grants_create_for_new_tip(
                    tip=tip, tip_key=tip_key, include_pipeline=include_pipeline
                )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    def run_replacement() -> None:
        try:
            read_the_keys.wait(timeout=30)
            replace()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            replacement_over.set()
            connection.close()

    threads = [threading.Thread(target=create_tip), threading.Thread(target=run_replacement)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return Tip.objects.get(), tip_key
