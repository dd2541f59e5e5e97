"""Files a source sends later, on the conversation page: encrypted as they arrive under the
conversation key, cleaned by the worker, shown to editors, refused without a visit."""

from __future__ import annotations

import html
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase
from PIL import Image

from tests.arrivals_support import blob_files
from tests.conversation.helpers import PASSPHRASE, come_back, send_tip_for_passphrase
from tests.triage.helpers import signed_in_client
from tipline.conversation.services import conversation_key_for_reader
from tipline.crypto import DecryptionError, decrypt_bytes
from tipline.intake.form_token import FIELD, form_token_issue
from tipline.keyring import pipeline_private_key, tip_key_open, tip_key_unwrap
from tipline.models import Attachment, Grant, Message, RecipientKey, Tip
from tipline.sealed import Part, attachment_object_id

pytestmark = pytest.mark.django_db

SECRET_AUTHOR = "Comandante Lobo"
MESSAGE = "Here is the photo of the truck."


def photo_with_author() -> bytes:
    exif = Image.Exif()
    exif[0x013B] = SECRET_AUTHOR  # Artist
    out = io.BytesIO()
    Image.new("RGB", (320, 240), "olive").save(out, "JPEG", exif=exif.tobytes())
    assert SECRET_AUTHOR.encode() in out.getvalue()
    return out.getvalue()


def _send_later(client: Client, *, message: str = MESSAGE, files=(), execute: bool = True):
    data: dict = {"message": message}
    if files:
        data["files"] = [SimpleUploadedFile(name, content) for name, content in files]
    with TestCase.captureOnCommitCallbacks(execute=execute) as callbacks:
        response = client.post("/en/conversation/", data)
    return response, callbacks


def _pipeline_grant(tip: Tip) -> Grant | None:
    return Grant.objects.filter(tip=tip, recipient__kind=RecipientKey.Kind.PIPELINE).first()


def _tip_key(tip: Tip, recovery) -> bytes:
    return tip_key_unwrap(tip=tip, recipient=recovery.recipient, private_key=recovery.private_key)


def test_a_later_file_is_cleaned_and_shown_with_the_message(open_tipline, editor):
    passphrase = send_tip_for_passphrase(language="en")
    tip = Tip.objects.get()
    assert _pipeline_grant(tip) is None  # the tip had no file: no grant left to borrow
    source = come_back(passphrase, language="en")
    response, _ = _send_later(source, files=[("truck.jpg", photo_with_author())])
    assert response.status_code == 303

    later = Attachment.objects.get(tip=tip)
    assert later.sent_later and later.state == Attachment.State.DONE
    assert Message.objects.get(author=Message.Author.SOURCE).file_count == 1
    assert Tip.objects.get().file_count == 1
    assert _pipeline_grant(tip) is None  # dropped once the file was cleaned

    staff = signed_in_client(editor)
    page = staff.get(f"/staff/tips/{tip.reference}/").content.decode()
    assert MESSAGE in page and "truck.jpg" in page and "sent later by the source" in page
    download = staff.get(f"/staff/tips/{tip.reference}/files/{later.position + 1}/")
    cleaned = b"".join(download.streaming_content)
    assert cleaned.startswith(b"\xff\xd8") and SECRET_AUTHOR.encode() not in cleaned


def test_later_files_are_under_the_conversation_key_not_the_tip_key(open_tipline):
    passphrase = send_tip_for_passphrase(language="en")
    tip = Tip.objects.get()
    source = come_back(passphrase, language="en")
    response, callbacks = _send_later(
        source, files=[("a.bin", b"\x00later\xff" * 99)], execute=False
    )
    assert response.status_code == 303 and callbacks  # the cleaning is queued, not run yet
    later = Attachment.objects.get(tip=tip)
    tip_key = _tip_key(tip, open_tipline)
    conversation_key = conversation_key_for_reader(tip=tip, tip_key=tip_key)
    name_id = attachment_object_id(later, Part.NAME)
    assert decrypt_bytes(bytes(later.name_sealed), tip_key=conversation_key, object_id=name_id)
    with pytest.raises(DecryptionError):
        decrypt_bytes(bytes(later.name_sealed), tip_key=tip_key, object_id=name_id)
    # The worker's grant holds the conversation key: the source never had the tip key.
    grant = _pipeline_grant(tip)
    granted = tip_key_open(
        tip=tip, wrapped_key=grant.wrapped_key, private_key=pipeline_private_key.load().private_key
    )
    assert granted == conversation_key != tip_key
    for callback in callbacks:
        callback()
    assert Attachment.objects.get(pk=later.pk).state == Attachment.State.DONE
    assert _pipeline_grant(tip) is None


def test_while_the_tips_own_files_are_cleaned_its_grant_serves_both(open_tipline):
    data = {
        "note": "own file",
        "links": "",
        FIELD: form_token_issue(),
        "files": [SimpleUploadedFile("own.bin", b"own" * 50)],
    }
    with TestCase.captureOnCommitCallbacks(execute=False) as own:  # its cleaning waits
        page = Client(headers={"accept-language": "en"}).post("/en/send/", data)
    tip = Tip.objects.get()
    passphrase = html.unescape(PASSPHRASE.search(page.content.decode()).group(1))
    source = come_back(passphrase, language="en")
    response, later = _send_later(source, files=[("later.bin", b"later" * 50)], execute=False)
    assert response.status_code == 303
    grant = _pipeline_grant(tip)
    granted = tip_key_open(
        tip=tip, wrapped_key=grant.wrapped_key, private_key=pipeline_private_key.load().private_key
    )
    assert granted == _tip_key(tip, open_tipline)  # the tip's own grant stays, for both
    for callback in [*own, *later]:
        callback()
    states = set(Attachment.objects.filter(tip=tip).values_list("state", flat=True))
    assert states == {Attachment.State.DONE}
    assert _pipeline_grant(tip) is None


def test_without_a_visit_no_file_is_taken_and_nothing_is_kept(open_tipline, blob_storage):
    send_tip_for_passphrase(language="en")
    before = blob_files(blob_storage, "raw")
    response, _ = _send_later(Client(), files=[("x.bin", b"payload" * 100)])
    assert response.status_code == 403
    assert not Attachment.objects.exists()
    assert blob_files(blob_storage, "raw") == before


def test_a_forged_post_without_the_csrf_token_keeps_nothing(open_tipline, blob_storage):
    passphrase = send_tip_for_passphrase(language="en")
    forged = Client(enforce_csrf_checks=True)  # the visit's cookie, and no CSRF token
    forged.cookies = come_back(passphrase, language="en").cookies
    before = blob_files(blob_storage, "raw")
    response, _ = _send_later(forged, files=[("x.bin", b"payload" * 100)])
    assert response.status_code == 403
    assert not Attachment.objects.exists() and not Message.objects.exists()
    assert blob_files(blob_storage, "raw") == before


def test_a_closed_conversation_takes_no_file(open_tipline, editor, blob_storage):
    passphrase = send_tip_for_passphrase(language="en")
    tip = Tip.objects.get()
    source = come_back(passphrase, language="en")
    signed_in_client(editor).post(f"/staff/tips/{tip.reference}/conversation/close/")
    before = blob_files(blob_storage, "raw")
    response, _ = _send_later(source, files=[("x.bin", b"payload" * 100)])
    assert response.status_code == 400
    assert "no longer receives messages" in response.content.decode()
    assert not Attachment.objects.exists()
    assert blob_files(blob_storage, "raw") == before


def test_too_many_files_are_refused_calmly(open_tipline, settings, blob_storage):
    settings.TIPLINE_MAX_FILES = 1
    passphrase = send_tip_for_passphrase(language="en")
    source = come_back(passphrase, language="en")
    before = blob_files(blob_storage, "raw")
    response, _ = _send_later(source, files=[("a.bin", b"a"), ("b.bin", b"b")])
    assert response.status_code == 413
    assert "at most 1 files" in response.content.decode()
    assert not Attachment.objects.exists() and not Message.objects.exists()
    assert blob_files(blob_storage, "raw") == before


def test_files_alone_are_enough_and_nothing_at_all_is_not(open_tipline):
    passphrase = send_tip_for_passphrase(language="en")
    source = come_back(passphrase, language="en")
    assert _send_later(source, message="")[0].status_code == 400
    response, _ = _send_later(source, message="", files=[("a.bin", b"only a file")])
    assert response.status_code == 303
    assert Attachment.objects.get().sent_later


def test_no_plaintext_of_a_later_file_or_its_name_at_rest(open_tipline, blob_storage, caplog):
    from tests.conversation.test_timing_and_canary import _database_text

    name, content = "CANARY-NAME-5c1e.bin", b"CANARY-CONTENT-a9d4" * 200
    passphrase = send_tip_for_passphrase(language="en")
    source = come_back(passphrase, language="en")
    assert _send_later(source, message="", files=[(name, content)])[0].status_code == 303
    assert Attachment.objects.get().state == Attachment.State.DONE
    dump = _database_text()
    stored = b"".join(p.read_bytes() for p in blob_storage.rglob("*") if p.is_file())
    for secret in (name.encode(), b"CANARY-CONTENT-a9d4"):
        assert secret not in dump and secret not in stored
        assert secret.decode() not in caplog.text
