"""Files sent later with JavaScript on: resumable uploads (tus) for a source's visit.

The conversation page's script creates each upload with ``visit`` in its
metadata; the server finds the visit from the cookie and seals the
conversation key (with the tip's key id) under the page's secret, so the
finished blob is exactly what the streamed intake makes of a later file. The
conversation's POST then claims the uploads bound to that visit and page.
These tests play that page against the real tus application and views.
"""

from __future__ import annotations

import io
import secrets

import pytest
from django.http import HttpResponse
from django.test import Client, TestCase
from PIL import Image

from tests.conversation.helpers import come_back, send_tip_for_passphrase
from tests.intake.helpers import form_token_of
from tests.intake.tus_support import Disconnect, TusClient, b64
from tests.triage.helpers import signed_in_client
from tipline.conversation.services import conversation_key_for_reader
from tipline.conversation.visit import visit_cookie_name, visit_keys_of, visit_start
from tipline.crypto import DEFAULT_CHUNK_SIZE
from tipline.intake.resumable import secret_parse
from tipline.keyring import tip_key_unwrap
from tipline.models import Attachment, Conversation, Message, PendingUpload, Tip
from tipline.sealed import pending_tip_key_open

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("data_dir")]


@pytest.fixture
def data_dir(tmp_path, settings):
    """A data dir of the test's own, so its upload spool starts empty."""
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    return settings.DATA_DIR


CS = DEFAULT_CHUNK_SIZE
SECRET_AUTHOR = "Comandante Lobo"


def photo_with_author() -> bytes:
    exif = Image.Exif()
    exif[0x013B] = SECRET_AUTHOR  # Artist
    out = io.BytesIO()
    Image.new("RGB", (320, 240), "olive").save(out, "JPEG", exif=exif.tobytes())
    # Padded past two cipher chunks (JPEG ignores what follows its end), so the
    # upload below can be cut mid-chunk and resumed.
    return out.getvalue() + b"\x00" * (2 * CS)


class VisitPage(TusClient):
    """The conversation page as its script sees it: the visit's cookie, a secret, a page id."""

    def __init__(self, source: Client | None, lang: str = "en") -> None:
        super().__init__(form_token="", lang=lang)
        cookie = source.cookies.get(visit_cookie_name()) if source is not None else None
        self.cookie = f"{visit_cookie_name()}={cookie.value}" if cookie is not None else None

    def headers(self, **extra: str) -> dict[str, str]:
        headers = super().headers(**extra)
        if self.cookie is not None:
            headers["Cookie"] = self.cookie
        return headers

    def create(self, length: int, name: str = "foto.jpg", **headers: str):
        metadata = f"filename {b64(name)},visit {b64('1')},form_id {b64(self.form_id)}"
        return self.call(
            "POST",
            f"/{self.lang}/uploads/",
            **{"Upload-Length": str(length), "Upload-Metadata": metadata, **headers},
        )


def source_in(language: str = "en") -> Client:
    return come_back(send_tip_for_passphrase(language=language), language=language)


def post_message(source: Client, page: TusClient, tokens: list[str], message: str = ""):
    data = {
        "message": message,
        "upload": tokens,
        "upload_secret": page.secret,
        "upload_form": page.form_id,
    }
    with TestCase.captureOnCommitCallbacks(execute=True):
        return source.post(f"/{page.lang}/conversation/", data)


def test_a_file_sent_ahead_by_a_visit_is_a_cleaned_later_file_of_its_tip(open_tipline, editor):
    source = source_in()
    tip = Tip.objects.get()
    page = VisitPage(source)
    photo = photo_with_author()
    created = page.create(len(photo), "truck.jpg")
    assert created.status == 201, created
    location = created["Location"]
    page.patch(location, 0, [photo[: CS + 10], Disconnect()])  # the connection breaks once
    offset = int(page.head(location)["Upload-Offset"])
    assert offset == CS
    assert page.patch(location, offset, [photo[offset:]]).status == 204

    # The pending upload is under the conversation key with the tip's key id: no fresh key.
    pending = PendingUpload.objects.get()
    tip_key = tip_key_unwrap(
        tip=tip, recipient=open_tipline.recipient, private_key=open_tipline.private_key
    )
    conversation_key = conversation_key_for_reader(tip=tip, tip_key=tip_key)
    assert pending.tip_key_id == tip.key_id
    assert pending_tip_key_open(pending, secret=secret_parse(page.secret)) == conversation_key

    response = post_message(source, page, [location.rsplit("/", 1)[1]], "The truck, again.")
    assert response.status_code == 303, response.content.decode()[:2000]
    later = Attachment.objects.get(tip=tip)
    assert later.sent_later and later.state == Attachment.State.DONE
    assert later.received_size == len(photo)
    assert Message.objects.get(author=Message.Author.SOURCE).file_count == 1
    assert not PendingUpload.objects.exists()

    staff = signed_in_client(editor)
    tip_page = staff.get(f"/staff/tips/{tip.reference}/").content.decode()
    assert "The truck, again." in tip_page and "truck.jpg" in tip_page
    download = staff.get(f"/staff/tips/{tip.reference}/files/{later.position + 1}/")
    cleaned = b"".join(download.streaming_content)
    assert cleaned.startswith(b"\xff\xd8") and SECRET_AUTHOR.encode() not in cleaned


def test_without_a_visit_creation_is_refused(open_tipline):
    send_tip_for_passphrase(language="en")
    assert VisitPage(None).create(100).status == 403
    forged = VisitPage(None)
    forged.cookie = f"{visit_cookie_name()}=" + "A" * 64
    assert forged.create(100).status == 403
    left = source_in()
    page = VisitPage(left)
    assert (
        left.post("/en/conversation/leave/").status_code == 303
    )  # the visit ends: its cookie opens nothing any more
    assert page.create(100).status == 403
    assert not PendingUpload.objects.exists()


def test_a_closed_conversation_takes_no_upload(open_tipline):
    source = source_in()
    Conversation.objects.update(closed=True)
    assert VisitPage(source).create(100).status == 403
    assert not PendingUpload.objects.exists()


def test_a_visit_cannot_claim_another_visits_upload(open_tipline):
    first, second = source_in(), source_in()
    page = VisitPage(first)
    token = page.upload(b"first source's file" * 10, "a.bin")
    # The second visit posts the first page's token, secret and page id: all it could steal.
    response = post_message(second, page, [token], "mine now")
    assert response.status_code == 400
    assert not Attachment.objects.exists()
    assert PendingUpload.objects.filter(token=token).exists()
    # Another visit of the same source (same tip) with the same page data cannot either.
    again = come_back_again(first)
    assert post_message(again, page, [token]).status_code == 400
    assert not Attachment.objects.exists()
    # The page's own visit can.
    assert post_message(first, page, [token]).status_code == 303
    assert Attachment.objects.filter(sent_later=True).count() == 1


def come_back_again(source: Client) -> Client:
    """A second visit to the tip of ``source``'s visit (the passphrase typed again)."""
    other = Client()
    keys = visit_keys_of({visit_cookie_name(): source.cookies[visit_cookie_name()].value})
    assert keys is not None
    response = HttpResponse()
    visit_start(response, keys=keys)
    other.cookies[visit_cookie_name()] = response.cookies[visit_cookie_name()].value
    return other


def test_a_visit_cannot_claim_a_forms_upload(open_tipline, client: Client):
    source = source_in()
    form_page = TusClient(form_token=form_token_of(client.get("/en/")), lang="en")
    token = form_page.upload(b"a new tip's file" * 10, "f.bin")
    response = post_message(source, form_page, [token], "taking it")
    assert response.status_code == 400
    assert not Attachment.objects.exists()
    assert PendingUpload.objects.filter(token=token).exists()


def test_a_form_cannot_claim_a_visits_upload(open_tipline, client: Client):
    source = source_in()
    page = VisitPage(source)
    token = page.upload(b"a later file" * 10, "v.bin")
    tips = Tip.objects.count()
    data = {
        "note": "a new tip with someone else's file",
        "links": "",
        "form_token": form_token_of(client.get("/en/")),
        "upload": [token],
        "upload_secret": page.secret,
        "upload_form": page.form_id,
    }
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post("/en/send/", data)
    assert response.status_code == 400
    assert Tip.objects.count() == tips
    assert not Attachment.objects.exists()
    assert PendingUpload.objects.filter(token=token).exists()


def test_a_claim_with_the_wrong_secret_is_refused(open_tipline):
    source = source_in()
    page = VisitPage(source)
    token = page.upload(secrets.token_bytes(500), "s.bin")
    thief = VisitPage(source)
    thief.form_id = page.form_id  # the same page id, another secret
    assert post_message(source, thief, [token]).status_code == 400
    assert not Attachment.objects.exists()
