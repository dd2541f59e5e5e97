"""Helpers for driving the source form in tests."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase

from tipline.crypto import decrypt_bytes
from tipline.intake.form_token import FIELD, form_token_issue
from tipline.keyring import tip_key_unwrap
from tipline.models import Tip
from tipline.sealed import Part, tip_object_id

SUBMIT_URL = "/es/send/"
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def form_token_of(page) -> str:
    """The form token in a landing page (a test client's response)."""
    match = FORM_TOKEN.search(page.content.decode())
    assert match, "the page has no form token"
    return match.group(1)


def submit_tip(
    client: Client,
    *,
    note: str = "",
    links: str = "",
    files: Sequence[tuple[str, bytes]] = (),
    url: str = SUBMIT_URL,
    form_token: str | None = None,
):
    """POST the form; the on-commit hooks (the in-process pipeline) run as after a real commit.

    The form's single-use token is made as the landing page makes it, unless
    one is given (``form_token_of`` reads it from a page). "" sends none.
    """
    if form_token is None:
        form_token = form_token_issue()
    data: dict = {"note": note, "links": links}
    if form_token:
        data[FIELD] = form_token
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
