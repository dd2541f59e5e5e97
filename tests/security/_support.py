"""What every security test checks: the pinned headers, no stack trace, and the site's pages.

The pages are read from the resolver, not written by hand, so a view added
later is covered the day it is added.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.translation import override

from tests.http_client import TOKEN_FIELD
from tests.route_samples import route_filled
from tests.triage.helpers import StaffAccount, english_client

# --- Headers pinned on every response -------------------------------------------------------

DENIED_FEATURES = ("camera", "microphone", "geolocation")
CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Expose-Headers",
)


def csp_directives(value: str) -> dict[str, list[str]]:
    directives = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def assert_pinned_headers(response, *, label: str = "") -> None:
    """The headers the issue pins, on any response whatever its status or origin."""
    where = f"{label} ({response.status_code})"
    csp = response.get("Content-Security-Policy", "")
    assert csp, f"no Content-Security-Policy on {where}"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, (where, csp)
    directives = csp_directives(csp)
    assert directives.get("default-src") == ["'none'"], (where, csp)
    assert directives.get("frame-ancestors") == ["'none'"], (where, csp)
    assert directives.get("base-uri") == ["'none'"], (where, csp)
    # File responses are sandboxed documents with no form at all; pages allow only ours.
    assert directives.get("form-action") in (["'self'"], ["'none'"]) or "sandbox" in directives, (
        where,
        csp,
    )
    assert response.get("X-Frame-Options") == "DENY", where
    assert response.get("Referrer-Policy") == "same-origin", where
    assert response.get("X-Content-Type-Options") == "nosniff", where
    policy = {
        item.split("=", 1)[0].strip(): item.split("=", 1)[1].strip()
        for item in response.get("Permissions-Policy", "").split(",")
        if "=" in item
    }
    for feature in DENIED_FEATURES:
        assert policy.get(feature) == "()", (where, feature, policy)
    assert response.get("Cross-Origin-Opener-Policy") == "same-origin", where
    assert response.get("Cross-Origin-Resource-Policy") == "same-origin", where
    assert "no-store" in response.get("Cache-Control", ""), where
    assert_no_cors(response, label=label)


def assert_no_cors(response, *, label: str = "") -> None:
    present = [name for name in CORS_HEADERS if response.has_header(name)]
    assert not present, f"CORS header(s) {present} on {label} ({response.status_code})"


# --- No stack trace, ever ------------------------------------------------------------------------

LEAKS = re.compile(
    r"Traceback \(most recent call last\)|Traceback|site-packages|/work/|\.py\"|"
    r"File \"|django\.core\.|DEBUG = True|technical_500|Exception Value",
)


def body_of(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def assert_no_server_error(response, *, label: str = "") -> None:
    assert response.status_code < 500 or response.status_code == 503, (
        f"{label}: server error {response.status_code}"
    )
    assert_no_stack_trace(body_of(response), label=label)


def assert_no_stack_trace(body: bytes, *, label: str = "") -> None:
    text = body.decode("utf-8", "replace")
    found = LEAKS.search(text)
    assert found is None, f"{label}: the response shows {found.group(0)!r}"
    assert str(settings.BASE_DIR) not in text, label


# --- The site's pages, read from the resolver ------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str  # namespace:name
    route: str  # the pattern with its placeholders, from the site's root


def site_routes() -> list[Route]:
    """Every URL pattern of the site, in every language of the source pages."""
    found: list[Route] = []

    def walk(patterns, prefix: str, namespace: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = f"{namespace}:{entry.namespace}" if entry.namespace else namespace
                walk(entry.url_patterns, prefix + str(entry.pattern), inner.strip(":"))
            else:
                assert isinstance(entry, URLPattern)
                name = f"{namespace}:{entry.name}".strip(":")
                found.append(Route(name, "/" + prefix + str(entry.pattern)))

    for code, _name in settings.LANGUAGES:
        with override(code):
            walk(get_resolver().url_patterns, "", "")
    return sorted(set(found), key=lambda route: route.route)


def fill(route: str, values: dict[str, str]) -> str:
    return route_filled(route, values)


def form_posts(response) -> list[str]:
    """The action of every <form method="post"> in an HTML response."""
    if not response.get("Content-Type", "").startswith("text/html"):
        return []
    html = body_of(response).decode("utf-8", "replace")
    actions = []
    for attrs in re.findall(r"<form\b([^>]*)>", html, flags=re.I):
        if re.search(r'method="post"', attrs, flags=re.I):
            action = re.search(r'action="([^"]*)"', attrs)
            assert action, f"a POST form without an action: {attrs}"
            actions.append(action.group(1).replace("&amp;", "&"))
    return actions


# --- Browsers that enforce CSRF like a real one -----------------------------------------------------


def csrf_token_from(client: Client, url: str) -> str:
    page = client.get(url).content.decode()
    match = TOKEN_FIELD.search(page)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def strict_signed_in_client(account: StaffAccount) -> Client:
    """Signed in through the login form, with the CSRF check a browser would face."""
    client = english_client(enforce_csrf_checks=True)
    token = csrf_token_from(client, "/staff/login/")
    response = client.post("/staff/login/", {**account.login_data(), "csrfmiddlewaretoken": token})
    assert response.status_code == 302, "login through the form failed"
    return client


# --- A raw socket against the live server --------------------------------------------------------


def raw_exchange(
    live_url: str, head: bytes, body: bytes = b"", *, shut_write: bool = True, timeout: float = 10
) -> bytes:
    """Send exactly these bytes, half-close, and read the answer until the server closes."""
    host, port = live_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        try:
            sock.sendall(head + body)
            if shut_write:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server answered and closed before all was sent: read what it said
        return read_response(sock)


def read_response(sock: socket.socket) -> bytes:
    """Read one HTTP response: its headers, then Content-Length bytes (or until closed)."""
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""  # closed on a request it would not read: what came is the answer
        if not chunk:
            return data
        data += chunk
    head, _sep, rest = data.partition(b"\r\n\r\n")
    match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if match:
        wanted = int(match.group(1))
        while len(rest) < wanted:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    else:
        try:
            while chunk := sock.recv(65536):
                rest += chunk
        except TimeoutError:
            pass
    return head + b"\r\n\r\n" + rest


def status_of(raw: bytes) -> int:
    match = re.match(rb"HTTP/1\.[01] (\d{3})", raw)
    assert match, raw[:200]
    return int(match.group(1))


def placeholder_values(tip, editor: StaffAccount) -> dict[str, str]:
    from tipline.models import RecipientKey

    recipient = RecipientKey.objects.get(user=editor.user, kind="editor")
    return {
        "<str:reference>": tip.reference,
        "<int:recipient_id>": str(recipient.pk),
        "<int:user_id>": str(editor.user.pk),
    }


def staff_urls(values: dict[str, str]) -> list[str]:
    return [fill(r.route, values) for r in site_routes() if r.name.startswith("staff:")]


def source_urls() -> list[str]:
    return [r.route for r in site_routes() if not r.name.startswith("staff:")]
