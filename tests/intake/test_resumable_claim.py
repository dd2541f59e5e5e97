"""The form's POST claims the files its page sent ahead: one tip with all of them, or nothing.

The page (static/upload.js) uploads each file with tus under the form's token,
a random form id and its secret, then posts the form with the upload tokens,
the secret and the form id instead of the files. These tests play that page.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client, TestCase

from tests.conftest import RECOVERY_PASSPHRASE, all_files_under
from tests.intake.helpers import form_token_of, tip_content
from tests.intake.tus_support import Disconnect, TusClient, new_form_id, new_secret
from tipline.crypto import DEFAULT_CHUNK_SIZE
from tipline.intake import resumable
from tipline.intake.form_token import form_token_issue
from tipline.intake.services import tip_create
from tipline.models import Attachment, PendingUpload, Tip

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("data_dir")]

CS = DEFAULT_CHUNK_SIZE


def page_of(client: Client) -> TusClient:
    """A landing page as the script sees it: its form token, a new secret and form id."""
    return TusClient(form_token=form_token_of(client.get("/es/")))


def post_form(client: Client, page: TusClient, tokens: list[str], note: str = "", **extra):
    data = {
        "note": note,
        "links": "",
        "form_token": page.form_token,
        "upload": tokens,
        "upload_secret": page.secret,
        "upload_form": page.form_id,
        **extra,
    }
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post("/es/send/", data)


def test_the_form_claims_its_uploads_into_one_tip(
    client: Client, open_tipline, blob_storage: Path, tmp_path: Path, monkeypatch
) -> None:
    page = page_of(client)
    video = secrets.token_bytes(3 * CS + 5)
    text = "primera línea\nsegunda\n".encode()
    video_token = page.upload(video, "vídeo.mp4")
    # The second file's connection breaks once on the way.
    location = page.create(len(text) + 2 * CS, "notas.txt")["Location"]
    padded = text + b"x" * (2 * CS)
    page.patch(location, 0, [padded[: CS + 10], Disconnect()])
    offset = int(page.head(location)["Upload-Offset"])
    page.patch(location, offset, [padded[offset:]])
    text_token = location.rsplit("/", 1)[1]

    response = post_form(client, page, [video_token, text_token], note="Mira estos archivos")
    assert response.status_code == 200, response.content.decode()[:2000]
    assert "Gracias" in response.content.decode()
    tip = Tip.objects.get()
    assert tip.file_count == 2
    assert tip_content(tip, open_tipline)["note"] == "Mira estos archivos"
    attachments = list(tip.attachments.order_by("position"))
    assert [a.received_size for a in attachments] == [len(video), len(padded)]
    assert [a.state for a in attachments] == [Attachment.State.DONE] * 2
    assert not PendingUpload.objects.exists()
    assert all_files_under(resumable.spool_dir()) == []

    out = tmp_path / "export"
    monkeypatch.setenv("TIPLINE_RECOVERY_PASSPHRASE", RECOVERY_PASSPHRASE)
    call_command("export_tips", "--recovery-key", str(open_tipline.path), "--output", str(out))
    files = out / tip.reference / "files"
    assert (files / "notas.txt").read_bytes() == padded
    assert (files / "vídeo.mp4").read_bytes() == video


def test_uploads_of_another_form_are_refused(client: Client, open_tipline) -> None:
    page = page_of(client)
    token = page.upload(b"de otro formulario")
    other = page_of(client)
    other.secret, other.form_id = page.secret, page.form_id  # everything but the form token
    response = post_form(client, other, [token], note="hola")
    assert response.status_code == 400
    assert "no llegó completo" in response.content.decode()
    assert "hola" in response.content.decode()  # what the source typed is kept
    assert not Tip.objects.exists()
    assert PendingUpload.objects.count() == 1  # left for the sweep


@pytest.mark.parametrize(
    "change",
    [
        {"upload_secret": new_secret()},
        {"upload_secret": ""},
        {"upload_form": new_form_id()},
        {"upload_form": ""},
        {"upload": ["A" * 43]},
    ],
)
def test_a_claim_that_does_not_hold_stores_nothing(client: Client, open_tipline, change) -> None:
    page = page_of(client)
    token = page.upload(b"contenido")
    data = {"upload": [token], **change}
    tokens = data.pop("upload")
    response = post_form(client, page, tokens, note="hola", **data)
    assert response.status_code == 400
    assert not Tip.objects.exists()


def test_an_unfinished_upload_cannot_be_claimed(client: Client, open_tipline) -> None:
    page = page_of(client)
    location = page.create(2 * CS)["Location"]
    page.patch(location, 0, [b"x" * (CS + 1), Disconnect()])
    response = post_form(client, page, [location.rsplit("/", 1)[1]])
    assert response.status_code == 400
    assert not Tip.objects.exists()


def test_uploads_of_two_pages_of_one_form_are_not_one_tip(client: Client, open_tipline) -> None:
    page = page_of(client)
    first = page.upload(b"uno")
    again = TusClient(form_token=page.form_token)  # the form shown again: a new page
    second = again.upload(b"dos")
    assert post_form(client, again, [first, second]).status_code == 400
    assert post_form(client, again, [second]).status_code == 200
    assert Tip.objects.get().file_count == 1


def test_files_in_the_body_and_sent_ahead_are_refused(client: Client, open_tipline) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    page = page_of(client)
    token = page.upload(b"adelantado")
    response = post_form(
        client, page, [token], files=[SimpleUploadedFile("a.txt", b"en el cuerpo")]
    )
    assert response.status_code == 400
    assert not Tip.objects.exists()


def test_uploads_make_one_tip_only(client: Client, open_tipline) -> None:
    page = page_of(client)
    token = page.upload(b"una vez")
    claim = resumable.pending_uploads_claim(
        tokens=[token], secret=page.secret, form_binding=_binding(page)
    )
    common = dict(
        tip_key_id=claim.tip_key_id,
        tip_key=claim.tip_key,
        note="",
        links=[],
        uploads=claim.uploads,
        arrived_in_flood=False,
    )
    tip_create(**common)
    with pytest.raises(resumable.UploadClaimRefused):
        tip_create(**common)
    assert Tip.objects.count() == 1
    # And the form's POST finds them gone.
    assert post_form(client, page, [token]).status_code == 400
    assert Tip.objects.count() == 1


def _binding(page: TusClient) -> str | None:
    return resumable.form_binding_of(form_token=page.form_token, form_id=page.form_id)


def test_a_claim_names_each_upload_once(client: Client, open_tipline) -> None:
    page = page_of(client)
    token = page.upload(b"dos veces")
    assert post_form(client, page, [token, token]).status_code == 400


def test_the_binding_is_keyed_not_the_token(settings) -> None:
    token, form_id = form_token_issue(), new_form_id()
    binding = resumable.form_binding_of(form_token=token, form_id=form_id)
    assert binding and len(binding) == 64
    settings.SECRET_KEY = "another-installation-" + "x" * 40
    assert resumable.form_binding_of(form_token=form_token_issue(), form_id=form_id) != binding
