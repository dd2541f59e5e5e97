"""A wrong passphrase costs what a right one does; no plaintext of the conversation at rest."""

from __future__ import annotations

import statistics
import time

import pytest
from django.db import connection

from tests.conversation.helpers import come_back, send_tip_for_passphrase
from tests.triage.helpers import signed_in_client
from tipline.conversation.services import conversation_open
from tipline.crypto import Argon2Params
from tipline.models import Tip

pytestmark = pytest.mark.django_db


def _median_seconds(typed: str, tries: int) -> float:
    durations = []
    for _ in range(tries):
        started = time.perf_counter()
        conversation_open(typed=typed)
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


def test_wrong_and_right_passphrases_take_the_same_time(open_tipline, monkeypatch):
    # Argon2 big enough to dominate, as in production (where it is 64 MiB).
    monkeypatch.setattr(
        "tipline.conversation.keys.SOURCE_KEY_ARGON2",
        Argon2Params(memory_cost=16 * 1024, iterations=2, lanes=1),
    )
    right = send_tip_for_passphrase(language="en")
    wrong = " ".join(["zealot"] * 7)
    assert conversation_open(typed=right) is not None and conversation_open(typed=wrong) is None
    tries = 25
    right_median = _median_seconds(right, tries)
    wrong_median = _median_seconds(wrong, tries)
    empty_median = _median_seconds("", tries)
    for other in (wrong_median, empty_median):
        assert abs(other - right_median) / right_median < 0.25, (right_median, other)


def _database_text() -> bytes:
    chunks = []
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        for table in tables:
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - our own tables
            chunks.append(repr(cursor.fetchall()).encode())
    return b"\n".join(chunks)


def test_no_plaintext_of_messages_or_passphrase_at_rest(open_tipline, editor, blob_storage, caplog):
    canary_reply, canary_message = "CANARY-REPLY-7f3a", "CANARY-SOURCE-91bd"
    passphrase = send_tip_for_passphrase(language="en")
    tip = Tip.objects.get()
    signed_in_client(editor).post(f"/staff/tips/{tip.reference}/reply/", {"reply": canary_reply})
    come_back(passphrase, language="en").post("/en/conversation/", {"message": canary_message})
    dump = _database_text()
    stored = b"".join(p.read_bytes() for p in blob_storage.rglob("*") if p.is_file())
    normalised = "".join(passphrase.split()).encode()
    for secret in (canary_reply.encode(), canary_message.encode(), passphrase.encode(), normalised):
        assert secret not in dump and secret not in stored
        assert secret.decode() not in caplog.text
