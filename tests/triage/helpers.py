"""Staff accounts and tips for tests, made the real way (shared by unit and browser tests)."""

from __future__ import annotations

import io
from base64 import b32decode
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from django.test import Client
from django_otp.oath import TOTP
from PIL import Image

from tipline.accounts.services import editor_create
from tipline.audit import COMMAND_LINE_ACTOR

EDITOR_PASSWORD = "a long editor password 42"


@dataclass
class StaffAccount:
    user: object
    password: str
    otpauth_uri: str
    backup_codes: list[str]

    @property
    def username(self) -> str:
        return self.user.get_username()

    def current_code(self, drift: int = 0) -> str:
        """The code the editor's authenticator app shows now (``drift`` steps off)."""
        return totp_code(self.otpauth_uri, drift=drift)

    def login_data(self, code: str | None = None) -> dict[str, str]:
        code = code if code is not None else self.backup_codes.pop()
        return {"username": self.username, "password": self.password, "code": code}


def totp_code(otpauth_uri: str, *, drift: int = 0) -> str:
    """What an authenticator app enrolled with ``otpauth_uri`` shows now (the secret is in it)."""
    query = parse_qs(urlsplit(otpauth_uri).query)
    secret = b32decode(query["secret"][0])
    digits, step = int(query["digits"][0]), int(query["period"][0])
    return f"{TOTP(secret, step, 0, digits, drift).token():0{digits}d}"


def staff_account_create(username: str, *, admin: bool = False) -> StaffAccount:
    created = editor_create(
        actor=COMMAND_LINE_ACTOR, username=username, password=EDITOR_PASSWORD, is_admin=admin
    )
    return StaffAccount(
        created.user, EDITOR_PASSWORD, created.otpauth_uri, list(created.backup_codes)
    )


def english_client(**defaults) -> Client:
    """A browser that asks for English (staff pages follow Accept-Language; tests read English)."""
    return Client(headers={"accept-language": "en"}, **defaults)


def signed_in_client(account: StaffAccount) -> Client:
    """A browser that logged in through /staff/login/ (a backup code stands in for TOTP)."""
    client = english_client()
    response = client.post("/staff/login/", account.login_data())
    assert response.status_code == 302, "login through the form failed"
    return client


def send_tip(*, note: str = "", links: str = "", files=()) -> object:
    """A tip sent through the source form (the in-process pipeline cleans its files)."""
    from tests.intake.helpers import submit_tip
    from tipline.models import Tip

    response = submit_tip(Client(), note=note, links=links, files=files)
    assert response.status_code == 200, "the source form refused the tip"
    return Tip.objects.order_by("-id").first()


def granted_tip(*, note: str = "a note", tip_key: bytes | None = None):
    """A tip made by the service, granted to every active reader at this moment
    (as the source form would), without going through the form."""
    import uuid

    from tipline.crypto import new_tip_key
    from tipline.intake.services import tip_create

    return tip_create(
        tip_key_id=uuid.uuid4(),
        tip_key=tip_key or new_tip_key(),
        note=note,
        links=[],
        uploads=[],
        arrived_in_flood=False,
    )


def jpeg_bytes(size: tuple[int, int] = (640, 480), colour: str = "teal") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", quality=90)
    return out.getvalue()


TIP_NOTE = "The shipment arrives on Tuesday"
TIP_LINK = "https://example.org/cargo"
# A type the cleaner does not handle: stored unchanged, "not sanitized".
UNSANITIZED_BYTES = b"\x00\x01binary blob nobody cleans\xff" * 100
