"""export_tips writes the conversation: conversation.txt, who wrote each entry and its day."""

from __future__ import annotations

from datetime import date

import pytest

from tests.conversation.helpers import come_back, send_tip_for_passphrase
from tests.test_export_names import export_one, files_in, send
from tests.triage.helpers import signed_in_client
from tipline.models import Message, Tip

pytestmark = pytest.mark.django_db

FIRST_REPLY = "Can you send the original video?"
DELETED_REPLY = "Sorry, wrong tip: ignore this"
SOURCE_MESSAGE = "Yes: it was filmed on 3 May."


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"


def test_conversation_txt_has_every_entry_but_deleted_replies(open_tipline, editor, tmp_path):
    passphrase = send_tip_for_passphrase(language="en")
    tip = Tip.objects.get()
    staff = signed_in_client(editor)
    for text in (FIRST_REPLY, DELETED_REPLY):
        assert staff.post(f"/staff/tips/{tip.reference}/reply/", {"reply": text}).status_code == 302
    unwanted = Message.objects.get(author=Message.Author.EDITOR, id__gt=Message.objects.first().pk)
    staff.post(f"/staff/tips/{tip.reference}/reply/{unwanted.pk}/delete/")
    source = come_back(passphrase, language="en")
    assert source.post("/en/conversation/", {"message": SOURCE_MESSAGE}).status_code == 303

    folder = export_one(tip, open_tipline, tmp_path / "out")
    text = (folder / "conversation.txt").read_text(encoding="utf-8")
    today = f"{date.today():%Y-%m-%d}"
    assert text == (f"{today} · Editor\n{FIRST_REPLY}\n\n{today} · Source\n{SOURCE_MESSAGE}\n")
    assert DELETED_REPLY not in text


def test_no_conversation_txt_without_messages(open_tipline, tmp_path):
    send_tip_for_passphrase(language="en")
    folder = export_one(Tip.objects.get(), open_tipline, tmp_path / "out")
    assert not (folder / "conversation.txt").exists()


def test_a_source_file_named_conversation_txt_cannot_pass_for_it(open_tipline, tmp_path):
    tip = send([("Conversation.TXT", b"forged: Editor said to meet at noon")])
    folder = export_one(tip, open_tipline, tmp_path / "out")
    written = files_in(folder)
    assert "Conversation (source file).TXT" in written
    assert "Conversation.TXT" not in written


def test_files_sent_later_are_exported_and_marked(open_tipline, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import TestCase

    passphrase = send_tip_for_passphrase(language="en")
    source = come_back(passphrase, language="en")
    content = b"\x00later file nobody cleans\xff" * 40
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = source.post(
            "/en/conversation/",
            {"message": "", "files": [SimpleUploadedFile("summary.txt", content)]},
        )
    assert response.status_code == 303
    folder = export_one(Tip.objects.get(), open_tipline, tmp_path / "out")
    written = files_in(folder)
    assert written["summary (source file).txt"] == content  # a reserved name, renamed
    summary = (folder / "summary.txt").read_text()
    assert "sent later by the source, through the conversation" in summary
    assert "You sent" not in (folder / "conversation.txt").read_text()
