"""Thumbnails made by the worker: from the cleaned picture, stored encrypted, never failing a file."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from django.test import Client
from PIL import Image

from tests.arrivals_support import blob_files, blob_path
from tests.conftest import RecoveryKey, all_files_under
from tests.intake.helpers import submit_tip, tip_content
from tests.sanitize._support import CORPUS
from tipline import sealed
from tipline.crypto import DecryptionError, decrypt_bytes
from tipline.keyring import tip_key_unwrap
from tipline.models import Attachment, Tip
from tipline.sealed import Part, attachment_object_id
from tipline.storage import blob_exists, read_blob
from tipline.worker import pipeline, thumbnails
from tipline.worker.pipeline import attachment_process

pytestmark = pytest.mark.django_db

CORPUS_PHOTO = CORPUS / "exif-samples/jpg/gps/DSCN0010.jpg"


def photo(
    size: tuple[int, int] = (1200, 900), colour: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "SECRET-CAMERA-MAKE"
    Image.new("RGB", size, colour).save(buf, format="JPEG", exif=exif.tobytes(), comment=b"SECRET")
    return buf.getvalue()


def killed(*args, **kwargs):
    raise SystemExit("worker killed")


def tip_key(tip: Tip, recovery: RecoveryKey) -> bytes:
    return tip_key_unwrap(tip=tip, recipient=recovery.recipient, private_key=recovery.private_key)


def open_thumbnail(attachment: Attachment, recovery: RecoveryKey) -> Image.Image:
    plain = decrypt_bytes(
        read_blob(attachment.thumbnail_blob),
        tip_key=tip_key(attachment.tip, recovery),
        object_id=attachment_object_id(attachment, Part.THUMBNAIL),
    )
    im = Image.open(io.BytesIO(plain))
    im.load()
    return im


def thumbnail_files(blob_storage: Path) -> list[Path]:
    return blob_files(blob_storage, "thumbnail")


def the_attachment() -> Attachment:
    return Attachment.objects.select_related("tip").get()


@pytest.fixture
def unprocessed_photo(client: Client, open_tipline, monkeypatch) -> Attachment:
    """A tip with one photo whose processing has not run yet."""
    monkeypatch.setattr("tipline.worker.tasks.process_attachment.delay", lambda *a, **k: None)
    submit_tip(client, note="n", files=[("IMG_0001.jpg", photo())])
    attachment = the_attachment()
    assert attachment.state == Attachment.State.RECEIVED
    return attachment


def test_a_photo_gets_an_encrypted_thumbnail(
    client: Client, open_tipline: RecoveryKey, blob_storage: Path
) -> None:
    submit_tip(client, note="mira", files=[("DSCN0010.jpg", CORPUS_PHOTO.read_bytes())])
    attachment = the_attachment()
    assert attachment.state == Attachment.State.DONE
    assert attachment.sanitize_status == "cleaned" and attachment.mime_type == "image/jpeg"
    assert attachment.thumbnail_blob.startswith("thumbnail/")
    assert thumbnail_files(blob_storage) == [blob_storage / attachment.thumbnail_blob]

    on_disk = blob_path(blob_storage, attachment.thumbnail_blob).read_bytes()
    plain = decrypt_bytes(
        on_disk,
        tip_key=tip_key(attachment.tip, open_tipline),
        object_id=attachment_object_id(attachment, Part.THUMBNAIL),
    )
    assert plain.startswith(b"\xff\xd8\xff\xe0\x00\x10JFIF")
    assert b"JFIF" not in on_disk and not on_disk.startswith(b"\xff\xd8")
    # Ciphertext: not one 16-byte piece of the JPEG (headers, tables, scan) is on disk.
    assert not any(plain[i : i + 16] in on_disk for i in range(0, len(plain) - 16, 16))

    im = open_thumbnail(attachment, open_tipline)
    assert im.format == "JPEG" and im.mode == "RGB"
    assert im.size == (320, 240)
    assert not im.getexif() and "icc_profile" not in im.info and "comment" not in im.info
    assert len(on_disk) < 40_000


def test_the_thumbnail_is_bound_to_its_own_object(
    client: Client, open_tipline: RecoveryKey
) -> None:
    submit_tip(client, files=[("a.jpg", photo()), ("b.jpg", photo(colour=(30, 30, 200)))])
    first, second = Attachment.objects.select_related("tip").order_by("position")
    assert first.thumbnail_blob and second.thumbnail_blob
    assert first.thumbnail_blob != second.thumbnail_blob
    key = tip_key(first.tip, open_tipline)
    blob = read_blob(first.thumbnail_blob)
    plain = decrypt_bytes(blob, tip_key=key, object_id=attachment_object_id(first, Part.THUMBNAIL))
    assert b"SECRET" not in plain  # the camera make and comment stayed behind
    assert Image.open(io.BytesIO(plain)).getpixel((10, 10)) == pytest.approx((200, 30, 30), abs=8)
    for wrong in (
        attachment_object_id(second, Part.THUMBNAIL),
        attachment_object_id(first, Part.CLEAN),
        attachment_object_id(first, Part.RAW),
    ):
        with pytest.raises(DecryptionError):
            decrypt_bytes(blob, tip_key=key, object_id=wrong)
    # Swapping the two names does not pass off one picture as the other.
    with pytest.raises(DecryptionError):
        decrypt_bytes(
            read_blob(second.thumbnail_blob),
            tip_key=key,
            object_id=attachment_object_id(first, Part.THUMBNAIL),
        )


def test_a_file_that_is_not_a_picture_gets_none(
    client: Client, open_tipline, blob_storage: Path
) -> None:
    files = [
        ("report.pdf", (CORPUS / "mat2/dirty.pdf").read_bytes()),
        ("notes.txt", b"some text " * 500),
        ("drawing.svg", (CORPUS / "mat2/dirty.svg").read_bytes()),
        ("clip.mp4", (CORPUS / "mat2/dirty.mp4").read_bytes()),
    ]
    submit_tip(client, files=files)
    attachments = Attachment.objects.all()
    assert len(attachments) == len(files)
    for attachment in attachments:
        assert attachment.state == Attachment.State.DONE
        assert attachment.thumbnail_blob == ""
    assert thumbnail_files(blob_storage) == []


def broken_huffman_jpeg() -> bytes:
    """A JPEG whose markers are fine (it cleans) but whose pixels cannot be decoded."""
    buf = io.BytesIO()
    Image.effect_noise((200, 150), 60).convert("RGB").save(buf, format="JPEG")
    data = bytearray(buf.getvalue())
    dht = data.find(b"\xff\xc4")
    data[dht + 5 : dht + 21] = b"\xff" * 16
    return bytes(data)


@pytest.mark.parametrize(
    "damaged",
    [photo()[: len(photo()) // 2], broken_huffman_jpeg()],
    ids=["truncated_so_not_cleaned", "cleaned_but_undecodable"],
)
def test_a_damaged_picture_gets_none_and_the_tip_is_unaffected(
    client: Client, open_tipline: RecoveryKey, blob_storage: Path, damaged: bytes
) -> None:
    submit_tip(client, note="dos fotos", files=[("bad.jpg", damaged), ("good.jpg", photo())])
    bad, good = Attachment.objects.select_related("tip").order_by("position")
    assert bad.state == good.state == Attachment.State.DONE
    assert bad.thumbnail_blob == "" and good.thumbnail_blob
    assert thumbnail_files(blob_storage) == [blob_storage / good.thumbnail_blob]
    assert open_thumbnail(good, open_tipline).size == (320, 240)
    assert tip_content(good.tip, open_tipline)["note"] == "dos fotos"


def test_processing_a_done_photo_again_makes_no_second_thumbnail(
    unprocessed_photo: Attachment, blob_storage: Path
) -> None:
    attachment_process(attachment_id=unprocessed_photo.pk)
    done = the_attachment()
    before = blob_path(blob_storage, done.thumbnail_blob).read_bytes()
    attachment_process(attachment_id=unprocessed_photo.pk)
    again = the_attachment()
    assert again.thumbnail_blob == done.thumbnail_blob and again.attempts == 1
    assert thumbnail_files(blob_storage) == [blob_storage / done.thumbnail_blob]
    assert blob_path(blob_storage, again.thumbnail_blob).read_bytes() == before


def test_a_crash_after_the_thumbnail_is_finished_without_an_orphan(
    unprocessed_photo: Attachment, monkeypatch, blob_storage: Path, open_tipline: RecoveryKey
) -> None:
    monkeypatch.setattr(pipeline, "_mark_done", killed)
    with pytest.raises(SystemExit):
        attachment_process(attachment_id=unprocessed_photo.pk)
    crashed = the_attachment()
    assert crashed.state == Attachment.State.RECEIVED  # an editor is shown nothing yet
    assert crashed.thumbnail_blob and blob_exists(crashed.thumbnail_blob)

    monkeypatch.undo()
    attachment_process(attachment_id=unprocessed_photo.pk)
    finished = the_attachment()
    assert finished.state == Attachment.State.DONE
    assert finished.thumbnail_blob == crashed.thumbnail_blob  # rewritten, not orphaned
    assert thumbnail_files(blob_storage) == [blob_storage / finished.thumbnail_blob]
    assert open_thumbnail(finished, open_tipline).size == (320, 240)


def test_a_thumbnail_failure_leaves_the_file_done_without_one(
    client: Client, open_tipline, blob_storage: Path, monkeypatch, caplog
) -> None:
    def broken(*args, **kwargs):
        raise TypeError("a bug in the thumbnail code: IMG_0001.jpg")

    monkeypatch.setattr(thumbnails, "thumbnail_jpeg", broken)
    with caplog.at_level(logging.WARNING, logger="tipline.worker.thumbnails"):
        submit_tip(client, files=[("IMG_0001.jpg", photo())])
    attachment = the_attachment()
    assert attachment.state == Attachment.State.DONE
    assert attachment.sanitize_status == "cleaned" and blob_exists(attachment.clean_blob)
    assert attachment.thumbnail_blob == ""
    assert thumbnail_files(blob_storage) == []
    messages = [r.getMessage() for r in caplog.records if r.name == "tipline.worker.thumbnails"]
    assert messages and all("IMG_0001" not in m for m in messages)  # content-free
    assert "TypeError" in messages[0]


def test_a_storage_failure_mid_write_leaves_no_partial_thumbnail(
    client: Client, open_tipline, blob_storage: Path, monkeypatch
) -> None:
    real_write = sealed.write_blob

    def half_written(name: str, data: bytes) -> None:
        real_write(name, data[: len(data) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(sealed, "write_blob", half_written)
    submit_tip(client, files=[("IMG_0001.jpg", photo())])
    attachment = the_attachment()
    assert attachment.state == Attachment.State.DONE
    assert attachment.thumbnail_blob == ""
    assert thumbnail_files(blob_storage) == []


def test_a_failed_file_loses_its_thumbnail_too(
    unprocessed_photo: Attachment, monkeypatch, blob_storage: Path
) -> None:
    monkeypatch.setattr(pipeline, "_mark_done", killed)
    with pytest.raises(SystemExit):
        attachment_process(attachment_id=unprocessed_photo.pk)
    monkeypatch.undo()
    left = the_attachment()
    assert left.thumbnail_blob and blob_exists(left.thumbnail_blob)

    raw_path = blob_path(blob_storage, left.raw_blob)  # tampered at rest before the retry
    data = bytearray(raw_path.read_bytes())
    data[len(data) // 2] ^= 0x01
    raw_path.write_bytes(bytes(data))
    attachment_process(attachment_id=unprocessed_photo.pk)
    failed = the_attachment()
    assert failed.state == Attachment.State.FAILED
    assert failed.thumbnail_blob == "" and failed.clean_blob == ""
    assert all_files_under(blob_storage) == []
