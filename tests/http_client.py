"""A tiny HTTP client for tests that talk to a real server, as a browser without JavaScript would."""

from __future__ import annotations

import re
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.cookies import SimpleCookie

TOKEN_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
FORM_TOKEN_FIELD = re.compile(r'name="form_token" value="([^"]+)"')


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Browser:
    base_url: str
    user_agent: str = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0"
    extra_headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> Response:
        all_headers = {"User-Agent": self.user_agent, **self.extra_headers, **(headers or {})}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        request = urllib.request.Request(
            self.base_url + path, data=body, method=method, headers=all_headers
        )
        try:
            with urllib.request.urlopen(request, timeout=600) as raw:
                response = Response(raw.status, dict(raw.headers.items()), raw.read())
                set_cookies = raw.headers.get_all("Set-Cookie") or []
        except urllib.error.HTTPError as error:
            response = Response(error.code, dict(error.headers.items()), error.read())
            set_cookies = error.headers.get_all("Set-Cookie") or []
        for header in set_cookies:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def submit_tip(
        self,
        *,
        note: str = "",
        links: str = "",
        files: list[tuple[str, bytes]] = (),
        lang: str = "es",
    ) -> Response:
        page = self.get(f"/{lang}/")
        match = TOKEN_FIELD.search(page.text)
        form_token = FORM_TOKEN_FIELD.search(page.text)
        assert match and form_token, "the landing page has no form"
        fields = {
            "csrfmiddlewaretoken": match.group(1),
            "form_token": form_token.group(1),
            "note": note,
            "links": links,
        }
        body, content_type = encode_multipart(fields, files)
        return self.request(
            "POST",
            f"/{lang}/send/",
            body,
            {
                "Content-Type": content_type,
                "Origin": self.base_url,
                "Referer": self.base_url + f"/{lang}/",
            },
        )


def encode_multipart(fields: dict[str, str], files) -> tuple[bytes, str]:
    boundary = "----tipline" + secrets.token_hex(12)
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for filename, content in files:
        header = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.extend([header.encode(), content, b"\r\n"])
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
