"""Files of a tip: streamed decrypted downloads, the not-sanitized warning, previews, thumbnails.

The bytes an editor downloads are checked against the stored blob opened
independently with the offline recovery key; a damaged blob must stop the
stream before any unauthenticated byte leaves; a large file streams in
bounded pieces and bounded memory.
"""

from __future__ import annotations

import hashlib
import io
import random
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db.models import F
from PIL import Image

from tests.arrivals_support import blob_path
from tests.triage.helpers import UNSANITIZED_BYTES, signed_in_client
from tipline.audit import Action
from tipline.crypto import (
    DEFAULT_CHUNK_SIZE,
    DecryptingReader,
    DecryptionError,
    EncryptingWriter,
    encrypt_bytes,
    new_tip_key,
)
from tipline.crypto.stream_format import HEADER_LEN, TAG_LEN
from tipline.intake.services import tip_create
from tipline.keyring import tip_key_unwrap
from tipline.models import Attachment, AuditEntry, Tip
from tipline.sealed import Part, attachment_object_id
from tipline.storage import new_blob_name, open_blob_for_read, open_blob_for_write

pytestmark = pytest.mark.django_db

STREAM_LIMIT = 256 * 1024
EN = {"accept-language": "en"}


def file_url(tip: Tip, number: int, kind: str = "") -> str:
    return f"/staff/tips/{tip.reference}/files/{number}/{kind + '/' if kind else ''}"


def attachment(tip: Tip, number: int) -> Attachment:
    return tip.attachments.get(position=number - 1)


def clean_plaintext(att: Attachment, recovery) -> bytes:
    """The clean blob opened with the recovery key, independently of the staff views."""
    tip_key = tip_key_unwrap(
        tip=att.tip, recipient=recovery.recipient, private_key=recovery.private_key
    )
    with open_blob_for_read(att.clean_blob) as encrypted:
        with DecryptingReader(
            encrypted, tip_key=tip_key, object_id=attachment_object_id(att, Part.CLEAN)
        ) as reader:
            return reader.read()


def consume(response) -> tuple[list[bytes], BaseException | None]:
    """Read a streamed body piece by piece; return what came out before any error."""
    pieces: list[bytes] = []
    try:
        for piece in response.streaming_content:
            pieces.append(piece)
    except Exception as exc:
        return pieces, exc
    return pieces, None


def flip_byte(blob_storage: Path, blob: str, offset: int) -> None:
    path = blob_path(blob_storage, blob)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def assert_file_headers(response) -> None:
    assert response["X-Content-Type-Options"] == "nosniff"
    csp = response["Content-Security-Policy"]
    assert "sandbox" in csp
    assert "default-src 'none'" in csp
    assert "unsafe-inline" not in csp


# --- The cleaned picture ------------------------------------------------------------------


def test_download_of_the_cleaned_picture_streams_the_clean_blob(
    tip_for_editor, editor_client, open_tipline
):
    response = editor_client.get(file_url(tip_for_editor, 1))
    assert response.status_code == 200
    assert response.streaming is True
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="harbour.jpg"'
    assert_file_headers(response)
    body, error = consume(response)
    assert error is None
    data = b"".join(body)
    expected = clean_plaintext(attachment(tip_for_editor, 1), open_tipline)
    assert data == expected
    assert data.startswith(b"\xff\xd8")
    assert int(response["Content-Length"]) == len(data)


def test_preview_shows_only_the_cleaned_picture_inline(tip_for_editor, editor_client, open_tipline):
    response = editor_client.get(file_url(tip_for_editor, 1, "preview"))
    assert response.status_code == 200
    assert response.streaming is True
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"] == "inline"
    assert_file_headers(response)
    data = b"".join(response.streaming_content)
    assert data == clean_plaintext(attachment(tip_for_editor, 1), open_tipline)
    assert Image.open(io.BytesIO(data)).format == "JPEG"
    # The file that was not cleaned is never shown inline, not even with ?confirm=1.
    assert editor_client.get(file_url(tip_for_editor, 2, "preview")).status_code == 404
    assert (
        editor_client.get(file_url(tip_for_editor, 2, "preview") + "?confirm=1").status_code == 404
    )


# --- The file that was not sanitized ---------------------------------------------------------


def test_a_file_not_sanitized_first_shows_a_warning(tip_for_editor, editor_client):
    response = editor_client.get(file_url(tip_for_editor, 2), headers=EN)
    assert response.status_code == 200
    assert response.streaming is False
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "was not sanitized" in html
    assert "ledger.bin" in html
    assert f'href="{file_url(tip_for_editor, 2)}?confirm=1"' in html
    assert b"binary blob nobody cleans" not in response.content
    assert not AuditEntry.objects.filter(action="file_downloaded").exists()


@pytest.mark.parametrize("confirm", ["0", "yes", "true", "11", ""])
def test_only_confirm_1_streams_the_file_not_sanitized(tip_for_editor, editor_client, confirm):
    response = editor_client.get(file_url(tip_for_editor, 2), {"confirm": confirm})
    assert response.status_code == 200
    assert response.streaming is False
    assert b"binary blob nobody cleans" not in response.content


def test_confirmed_download_of_the_file_not_sanitized(tip_for_editor, editor_client, open_tipline):
    response = editor_client.get(file_url(tip_for_editor, 2), {"confirm": "1"})
    assert response.status_code == 200
    assert response.streaming is True
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="ledger.bin"'
    assert_file_headers(response)
    data = b"".join(response.streaming_content)
    assert data == UNSANITIZED_BYTES
    assert data == clean_plaintext(attachment(tip_for_editor, 2), open_tipline)
    assert int(response["Content-Length"]) == len(UNSANITIZED_BYTES)


# --- What does not exist, for whom ----------------------------------------------------------------


@pytest.mark.parametrize("number", [0, 3, 99, 65536])
@pytest.mark.parametrize("kind", ["", "preview", "thumbnail"])
def test_file_numbers_out_of_range_are_404(tip_for_editor, editor_client, number, kind):
    assert editor_client.get(file_url(tip_for_editor, number, kind)).status_code == 404


def test_negative_or_text_numbers_are_404(tip_for_editor, editor_client):
    ref = tip_for_editor.reference
    for path in ("files/-1/", "files/one/", "files/1.0/", "files/01x/"):
        assert editor_client.get(f"/staff/tips/{ref}/{path}").status_code == 404


def test_a_file_still_being_processed_is_404(tip_for_editor, editor_client):
    Attachment.objects.filter(tip=tip_for_editor).update(state=Attachment.State.RECEIVED)
    for kind in ("", "preview", "thumbnail"):
        assert editor_client.get(file_url(tip_for_editor, 1, kind)).status_code == 404
    assert editor_client.get(file_url(tip_for_editor, 2), {"confirm": "1"}).status_code == 404


@pytest.mark.parametrize("kind", ["", "preview", "thumbnail"])
def test_an_editor_without_a_grant_gets_404(tip_for_editor, make_editor, kind):
    late = signed_in_client(make_editor("late"))  # arrived after the tip: no grant
    for number in (1, 2):
        response = late.get(file_url(tip_for_editor, number, kind), {"confirm": "1"})
        assert response.status_code == 404
        assert not getattr(response, "streaming", False)
    assert not AuditEntry.objects.filter(action="file_downloaded").exists()


# --- Audit ----------------------------------------------------------------------------------


def test_downloads_are_audited_by_number_not_name(tip_for_editor, editor, editor_client):
    b"".join(editor_client.get(file_url(tip_for_editor, 1)).streaming_content)
    b"".join(editor_client.get(file_url(tip_for_editor, 2), {"confirm": "1"}).streaming_content)
    b"".join(editor_client.get(file_url(tip_for_editor, 1, "preview")).streaming_content)
    entries = list(AuditEntry.objects.filter(action="file_downloaded"))
    assert [entry.detail for entry in entries] == [
        {"file": 1, "inline": False},
        {"file": 2, "inline": False},
        {"file": 1, "inline": True},
    ]
    for entry in entries:
        assert entry.tip_reference == tip_for_editor.reference
        assert entry.actor == editor.username
        text = f"{entry.actor} {entry.action} {entry.tip_reference} {entry.detail}"
        assert "harbour" not in text and "ledger" not in text and ".jpg" not in text


# --- Damaged blobs ---------------------------------------------------------------------------


def _refused_as_damaged(response) -> None:
    """A damaged blob found before streaming: an error page, not a file."""
    assert response.status_code == 500
    assert not response.streaming
    assert b"damaged" in response.content or b"da\xc3\xb1ado" in response.content
    assert b"\xff\xd8" not in response.content  # no JPEG bytes


def test_a_tampered_clean_picture_yields_no_bytes(tip_for_editor, editor_client, blob_storage):
    att = attachment(tip_for_editor, 1)
    size = blob_path(blob_storage, att.clean_blob).stat().st_size
    flip_byte(blob_storage, att.clean_blob, HEADER_LEN + (size - HEADER_LEN) // 2)
    _refused_as_damaged(editor_client.get(file_url(tip_for_editor, 1)))
    assert not AuditEntry.objects.filter(action=Action.FILE_DOWNLOADED).exists()


def test_a_tampered_preview_yields_no_bytes(tip_for_editor, editor_client, blob_storage):
    att = attachment(tip_for_editor, 1)
    flip_byte(blob_storage, att.clean_blob, HEADER_LEN + 3)
    _refused_as_damaged(editor_client.get(file_url(tip_for_editor, 1, "preview")))


def test_a_cut_off_blob_yields_no_bytes(tip_for_editor, editor_client, blob_storage):
    att = attachment(tip_for_editor, 2)
    path = blob_path(blob_storage, att.clean_blob)
    path.write_bytes(path.read_bytes()[:-TAG_LEN])
    _refused_as_damaged(editor_client.get(file_url(tip_for_editor, 2), {"confirm": "1"}))


def _pattern(size: int, seed: int = 7) -> Iterator[bytes]:
    """``size`` pseudo-random bytes, a MiB at a time (never the whole file in memory)."""
    rng = random.Random(seed)
    left = size
    while left:
        piece = rng.randbytes(min(left, 1024 * 1024))
        left -= len(piece)
        yield piece


def stored_file(tip: Tip, tip_key: bytes, *, size: int, name: str = "big.bin") -> Attachment:
    """A processed, not-sanitized file of ``size`` bytes, written as the worker writes it."""
    att = Attachment(
        tip=tip,
        position=tip.attachments.count(),
        received_size=size,
        stored_size=size,
        mime_type="application/octet-stream",
        state=Attachment.State.DONE,
        sanitize_status="not_sanitized",
        clean_blob=new_blob_name("clean"),
    )
    att.name_sealed = encrypt_bytes(
        name.encode(), tip_key=tip_key, object_id=attachment_object_id(att, Part.NAME)
    )
    with (
        open_blob_for_write(att.clean_blob) as sink,
        EncryptingWriter(
            sink, tip_key=tip_key, object_id=attachment_object_id(att, Part.CLEAN)
        ) as writer,
    ):
        for piece in _pattern(size):
            writer.write(piece)
    att.save()
    Tip.objects.filter(pk=tip.pk).update(file_count=F("file_count") + 1)
    return att


@pytest.fixture
def own_tip(editor) -> tuple[Tip, bytes]:
    tip_key = new_tip_key()
    tip = tip_create(
        tip_key_id=uuid.uuid4(),
        tip_key=tip_key,
        note="",
        links=[],
        uploads=[],
        arrived_in_flood=False,
    )
    return tip, tip_key


def test_a_tampered_middle_chunk_stops_the_stream_before_its_bytes(
    own_tip, editor_client, blob_storage
):
    tip, tip_key = own_tip
    size = 16 * DEFAULT_CHUNK_SIZE
    att = stored_file(tip, tip_key, size=size)
    original = b"".join(_pattern(size))
    bad_chunk = 9
    flip_byte(
        blob_storage, att.clean_blob, HEADER_LEN + bad_chunk * (DEFAULT_CHUNK_SIZE + TAG_LEN) + 5
    )

    pieces, error = consume(editor_client.get(file_url(tip, 1), {"confirm": "1"}))
    assert isinstance(error, DecryptionError)
    served = b"".join(pieces)
    # What came out is the authenticated start of the file and nothing of the bad chunk.
    assert len(served) <= bad_chunk * DEFAULT_CHUNK_SIZE
    assert served == original[: len(served)]


def test_a_large_download_streams_in_bounded_pieces_and_memory(own_tip, editor_client):
    tip, tip_key = own_tip
    size = 30 * 1024 * 1024 + 12345
    att = stored_file(tip, tip_key, size=size)
    expected = hashlib.sha256()
    for piece in _pattern(size):
        expected.update(piece)

    tracemalloc.start()
    try:
        response = editor_client.get(file_url(tip, att.position + 1), {"confirm": "1"})
        assert response.streaming is True
        content = response.streaming_content
        assert iter(content) is content  # an iterator, not a list or a buffered body
        digest, total, largest = hashlib.sha256(), 0, 0
        for piece in content:
            assert 0 < len(piece) <= STREAM_LIMIT
            digest.update(piece)
            total += len(piece)
            largest = max(largest, len(piece))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == size == int(response["Content-Length"])
    assert digest.hexdigest() == expected.hexdigest()
    # A whole-file buffer would be 30 MiB; a few pieces in flight are fine.
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


# --- Thumbnails ---------------------------------------------------------------------------


def test_thumbnail_of_the_cleaned_picture(tip_for_editor, editor_client):
    att = attachment(tip_for_editor, 1)
    assert att.thumbnail_blob, "the worker made no thumbnail"
    response = editor_client.get(file_url(tip_for_editor, 1, "thumbnail"))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert_file_headers(response)
    data = b"".join(response.streaming_content) if response.streaming else response.content
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    image.load()
    assert max(image.size) <= 320
    assert image.size[0] > image.size[1]  # the 640x480 picture keeps its shape
    # No metadata travels with the thumbnail either.
    assert "exif" not in image.info


def test_no_thumbnail_for_the_file_not_sanitized(tip_for_editor, editor_client):
    assert not attachment(tip_for_editor, 2).thumbnail_blob
    assert editor_client.get(file_url(tip_for_editor, 2, "thumbnail")).status_code == 404


def test_a_tampered_thumbnail_is_not_served(tip_for_editor, editor_client, blob_storage):
    att = attachment(tip_for_editor, 1)
    assert att.thumbnail_blob, "the worker made no thumbnail"
    flip_byte(blob_storage, att.thumbnail_blob, HEADER_LEN + 10)
    _refused_as_damaged(editor_client.get(file_url(tip_for_editor, 1, "thumbnail")))
