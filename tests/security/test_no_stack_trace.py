"""No input produces a server error page, and even a real server error shows no stack trace."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tests.security._support import (
    assert_no_server_error,
    assert_no_stack_trace,
    assert_pinned_headers,
    placeholder_values,
    source_urls,
    staff_urls,
)
from tests.triage.helpers import signed_in_client

pytestmark = pytest.mark.django_db

HOSTILE_QUERY = {
    "page": ["-1", "0", "99999999999999999999", "abc", "1e309"],
    "status": ["<script>", "\x00", "' OR 1=1 --"],
    "received_from": ["2024-13-45", "9999-99-99", "x" * 5000],
    "assignee": ["-1", "abc", "99999999999999999999"],
    "tag": ["\u202e", "%00"],
    "confirm": ["1", "yes", "\x00"],
    "next": ["//evil.example", "\r\n"],
}
HOSTILE_FORM = {
    "status": "\x00<script>",
    "tips": ["NOPE-NOPE-NOPE", "x" * 3000],
    "assignee": "99999999999999999999",
    "tags": "," * 500,
    "body": "\x00" * 100,
    "hold": "maybe",
    "recipient": "-1",
    "username": "\x00",
    "password": "x" * 10000,
    "code": "\u0661\u0662\u0663\u0664\u0665\u0666",
    "confirm": "\x00",
    "note": "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
    "links": "javascript:alert(1)\n" * 5,
}


def test_debug_is_off_in_these_tests():
    assert settings.DEBUG is False


def test_hostile_queries_and_forms_everywhere(admin, editor, readable_tip):
    signed_in = signed_in_client(admin)
    anonymous = Client()
    for client in (signed_in, anonymous):
        client.raise_request_exception = False
    urls = [*source_urls(), *staff_urls(placeholder_values(readable_tip, editor))]
    for url in urls:
        if url.endswith("/logout/"):
            continue
        for client in (anonymous, signed_in):
            for response in (
                client.get(url, HOSTILE_QUERY),
                client.post(url, HOSTILE_FORM),
                client.put(url, b"x"),
                client.delete(url),
            ):
                assert_no_server_error(response, label=url)


def test_a_real_server_error_shows_no_stack_trace(open_tipline, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("/work/main/secret/path.py boom")

    monkeypatch.setattr("tipline.intake.views.tipline_is_open", explode)
    response = Client(raise_request_exception=False).get("/es/")
    assert response.status_code == 500
    assert_no_stack_trace(response.content, label="500 page")
    assert b"boom" not in response.content and b"RuntimeError" not in response.content
    assert_pinned_headers(response, label="500 page")
