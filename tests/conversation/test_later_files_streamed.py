"""Later files over the real server: streamed like the form, under the visit's key, the visit
resolved from the cookie before a byte of the body is read."""

from __future__ import annotations

import asyncio
import html
import re
import secrets
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import all_files_under
from tests.conversation.helpers import PASSPHRASE
from tests.http_client import Browser, encode_multipart
from tests.server.clients import closed_after, connect, post_head, status_of
from tipline.conversation.services import conversation_key_for_reader
from tipline.crypto import decrypt_bytes
from tipline.keyring import tip_key_unwrap
from tipline.models import Attachment, Message, Tip
from tipline.sealed import Part, attachment_blob_open, attachment_object_id

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def no_django_multipart_parser(monkeypatch) -> None:
    def refuse(self, *args, **kwargs):
        raise AssertionError("later files must not go through Django's multipart parser")

    monkeypatch.setattr("django.http.multipartparser.MultiPartParser.parse", refuse)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the 303 is the answer: its Set-Cookie is what the test needs


def _come_back(browser: Browser, passphrase: str) -> None:
    """POST the passphrase (urlencoded, as the page's form) and keep the visit's cookie."""
    page = browser.get("/en/come-back/")
    body = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": TOKEN.search(page.text).group(1), "passphrase": passphrase}
    ).encode()
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    request = urllib.request.Request(
        browser.base_url + "/en/come-back/",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": browser.base_url,
            "Cookie": cookie,
        },
    )
    try:
        urllib.request.build_opener(_NoRedirect).open(request, timeout=60)
    except urllib.error.HTTPError as answer:
        assert answer.code == 303, answer.read()[:300]
        for header in answer.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            browser.cookies[name] = rest.split(";", 1)[0]


def test_a_later_file_is_streamed_under_the_conversation_key(
    start_server,
    open_tipline,
    blob_storage: Path,
) -> None:
    served = start_server()
    browser = Browser(served.url)
    sent = browser.submit_tip(note="first", lang="en")
    assert sent.status == 200
    passphrase = html.unescape(PASSPHRASE.search(sent.text).group(1))
    _come_back(browser, passphrase)

    page = browser.get("/en/conversation/")
    assert page.status == 200 and 'type="file"' in page.text
    data = secrets.token_bytes(MIB + 999)
    fields = {"csrfmiddlewaretoken": TOKEN.search(page.text).group(1), "message": "more"}
    body, content_type = encode_multipart(fields, [("later.bin", data)])
    answer = browser.request(
        "POST",
        "/en/conversation/",
        body,
        {"Content-Type": content_type, "Origin": served.url, "Referer": served.url + "/en/"},
    )
    assert answer.status == 200 and "more" in answer.text  # the 303, followed

    later = Attachment.objects.get()
    assert later.sent_later and later.state == Attachment.State.DONE
    assert Message.objects.get(author=Message.Author.SOURCE).file_count == 1
    assert all(data[:4096] not in path.read_bytes() for path in all_files_under(blob_storage))
    tip = Tip.objects.get()
    tip_key = tip_key_unwrap(
        tip=tip, recipient=open_tipline.recipient, private_key=open_tipline.private_key
    )
    conversation_key = conversation_key_for_reader(tip=tip, tip_key=tip_key)
    name = decrypt_bytes(
        bytes(later.name_sealed),
        tip_key=conversation_key,
        object_id=attachment_object_id(later, Part.NAME),
    )
    assert name == b"later.bin"
    with attachment_blob_open(later, Part.CLEAN, tip_key=tip_key) as reader:
        assert reader.read() == data


def test_without_a_visit_the_body_is_never_read(
    start_server,
    open_tipline,
    blob_storage: Path,
) -> None:
    served = start_server()
    head = post_head(
        served.url, "/en/conversation/", cookie="tipline_source=forged", length=50 * MIB
    )

    async def run() -> bytes:
        reader, writer = await connect(served.port)
        writer.write(head)  # the headers only: had the server waited for the body, no answer
        await writer.drain()
        answer, _ = await closed_after(reader, 20)
        writer.close()
        return answer

    answer = asyncio.run(run())
    assert status_of(answer) == 403
    assert all_files_under(blob_storage) == []
    assert not Attachment.objects.exists()
