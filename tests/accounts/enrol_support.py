"""Driving the enrolment pages the way a person does: sign in with a code, scan, type, done."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from django.http import HttpResponse
from django.test import Client

from tests.triage.helpers import english_client, totp_code

LOGIN = "/staff/login/"
ENROL = "/staff/first-sign-in/"
SIGN_IN_CODE = re.compile(r'<p class="secret">([2-9a-z]{4}-[2-9a-z]{4}-[2-9a-z]{4})</p>')
OTPAUTH = re.compile(r"otpauth://totp/[^<\s\"]+")
BACKUP_CODE = re.compile(r"^([2-9a-z]{10})$", re.MULTILINE)


def sign_in_code_from(response: HttpResponse) -> str:
    """The sign-in code an admin's page shows (new account, second-factor reset)."""
    found = SIGN_IN_CODE.search(response.content.decode())
    assert found, "the page shows no sign-in code"
    return found.group(1)


def sign_in(username: str, password: str, code: str) -> tuple[Client, HttpResponse]:
    client = english_client()
    response = client.post(LOGIN, {"username": username, "password": password, "code": code})
    return client, response


def enrolment_uri(client: Client) -> str:
    """The otpauth URI the enrolment page shows (the QR code's content)."""
    response = client.get(ENROL)
    assert response.status_code == 200, f"no enrolment page ({response.status_code})"
    return html.unescape(OTPAUTH.search(response.content.decode()).group(0))


@dataclass
class Enrolment:
    uri: str  # what the person's authenticator app now holds
    backup_codes: list[str]
    response: HttpResponse


def enrol(client: Client, *, password: str | None = None) -> Enrolment:
    """Scan the QR code (read its URI), type the app's code (and a password), finish."""
    uri = enrolment_uri(client)
    data = {"code": totp_code(uri)}
    if password is not None:
        data |= {"new_password": password, "new_password_again": password}
    response = client.post(ENROL, data)
    assert response.status_code == 200, f"enrolment refused ({response.status_code})"
    body = response.content.decode()
    assert "Your account is ready" in body, body
    return Enrolment(uri, BACKUP_CODE.findall(body), response)


def is_signed_in(client: Client) -> bool:
    return client.get("/staff/").status_code == 200
