from __future__ import annotations

import html
import re

from django.test import Client

from tests.intake.helpers import submit_tip

PASSPHRASE = re.compile(r'id="receipt-passphrase">([^<]+)<')


def send_tip_for_passphrase(*, language: str = "es", note: str = "a note") -> str:
    """Send a tip through the source form; return the receipt passphrase its page showed."""
    client = Client(headers={"accept-language": language})
    response = submit_tip(client, note=note, url=f"/{language}/send/")
    assert response.status_code == 200
    found = PASSPHRASE.search(response.content.decode())
    assert found, "the confirmation shows no receipt passphrase"
    return html.unescape(found.group(1))


def come_back(passphrase: str, *, language: str = "es", client: Client | None = None) -> Client:
    client = client or Client()
    response = client.post(f"/{language}/come-back/", {"passphrase": passphrase})
    assert response.status_code == 303, response.content[:300]
    return client
