"""Helpers for driving the source form in tests."""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase

from tipline.crypto import decrypt_bytes
from tipline.keyring import tip_key_unwrap
from tipline.models import Tip
from tipline.sealed import Part, tip_object_id

SUBMIT_URL = "/es/send/"


def submit_tip(
    client: Client,
    *,
    note: str = "",
    links: str = "",
    files: Sequence[tuple[str, bytes]] = (),
    url: str = SUBMIT_URL,
):
    """POST the form; the on-commit hooks (the in-process pipeline) run as after a real commit."""
    data: dict = {"note": note, "links": links}
    if files:
        data["files"] = [SimpleUploadedFile(name, content) for name, content in files]
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(url, data)


def tip_content(tip: Tip, recovery) -> dict:
    tip_key = tip_key_unwrap(
        tip=tip, recipient=recovery.recipient, private_key=recovery.private_key
    )
    plain = decrypt_bytes(
        bytes(tip.content_sealed),
        tip_key=tip_key,
        object_id=tip_object_id(tip.key_id, Part.CONTENT),
    )
    return json.loads(plain)
