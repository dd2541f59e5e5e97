"""The canary: a tip sent through a live server leaves nothing readable at rest.

A unique string is planted in the note, a text file and a 20 MB binary file
(also across the cipher's chunk boundaries), and in the client's address and
user agent headers. While the upload runs, a watcher reads every file in the
temp directory (and every deleted-but-open temp file of this process) looking
for it. Afterwards the database file, the blob store, the data directory and
the captured logs are searched. Only the export with the recovery key may
give the plaintext back, and it must give it back exactly.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import tempfile
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.conftest import RECOVERY_PASSPHRASE, all_files_under
from tests.http_client import Browser, encode_multipart
from tipline.models import Attachment, Tip

pytestmark = pytest.mark.django_db(transaction=True)

CANARY = f"CANARY{secrets.token_hex(10)}"
FAKE_ADDRESS = "203.0.113.77"


def big_binary_with_canary(size: int = 20 * 1024 * 1024) -> bytes:
    data = bytearray(secrets.token_bytes(size))
    marker = CANARY.encode()
    chunk = 64 * 1024
    for offset in (0, size // 3, chunk - len(marker) // 2, 2 * chunk - 3, size - len(marker)):
        data[offset : offset + len(marker)] = marker
    return bytes(data)


class TempWatcher(threading.Thread):
    """Reads every temp file, including unlinked ones still open, while the upload runs."""

    def __init__(self, folder: Path, needle: bytes) -> None:
        super().__init__(daemon=True)
        self.folder, self.needle = folder, needle
        self.stop = threading.Event()
        self.hits: list[str] = []
        self.files_seen: set[str] = set()

    def run(self) -> None:
        while not self.stop.is_set():
            self.scan()
            self.stop.wait(0.02)
        self.scan()

    def scan(self) -> None:
        for path in all_files_under(self.folder) + self.open_deleted_temp_files():
            self.files_seen.add(str(path))
            try:
                if self.needle in Path(path).read_bytes():
                    self.hits.append(str(path))
            except OSError:
                pass

    def open_deleted_temp_files(self) -> list[Path]:
        found = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if target.startswith(str(self.folder)) or (
                target.startswith("/tmp") and target.endswith("(deleted)")
            ):
                found.append(Path(f"/proc/self/fd/{fd}"))
        return found


@pytest.fixture
def watched_tempdir(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))
    return folder


def test_nothing_readable_at_rest(
    live_server,
    open_tipline,
    watched_tempdir: Path,
    blob_storage: Path,
    tmp_path: Path,
    caplog,
    monkeypatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    note = f"Nota secreta {CANARY} con acentos: año, señal."
    text_file = f"primera línea\n{CANARY}\núltima\n".encode()
    binary = big_binary_with_canary()
    browser = Browser(
        live_server.url,
        user_agent=f"Canary-Agent/{CANARY}",
        extra_headers={"X-Forwarded-For": FAKE_ADDRESS},
    )

    watcher = TempWatcher(watched_tempdir, CANARY.encode())
    watcher.start()
    response = browser.submit_tip(
        note=note,
        links=f"https://example.org/{CANARY}",
        files=[("texto.txt", text_file), (f"{CANARY}.bin", binary)],
    )
    watcher.stop.set()
    watcher.join()

    assert response.status == 200
    assert CANARY not in response.text
    assert watcher.hits == []
    tip = Tip.objects.get()
    assert [a.state for a in tip.attachments.all()] == [Attachment.State.DONE] * 2

    needles = [CANARY.encode(), FAKE_ADDRESS.encode(), CANARY.encode("utf-16-le")]
    searched = [
        Path(settings.DATABASES["default"]["TEST"]["NAME"]),
        *all_files_under(blob_storage, Path(settings.DATA_DIR), watched_tempdir),
    ]
    assert len(searched) > 3
    for path in searched:
        content = path.read_bytes()
        for needle in needles:
            assert needle not in content, f"{needle!r} found in {path}"
    assert CANARY not in caplog.text and FAKE_ADDRESS not in caplog.text

    out = tmp_path / "export"
    monkeypatch.setenv("TIPLINE_RECOVERY_PASSPHRASE", RECOVERY_PASSPHRASE)
    call_command("export_tips", "--recovery-key", str(open_tipline.path), "--output", str(out))
    folder = out / tip.reference
    assert (folder / "note.txt").read_text(encoding="utf-8") == note + "\n"
    assert (folder / "links.txt").read_text() == f"https://example.org/{CANARY}\n"
    assert (folder / "files" / "texto.txt").read_bytes() == text_file
    assert (folder / "files" / f"{CANARY}.bin").read_bytes() == binary


def test_nothing_readable_at_rest_after_a_resumed_upload(
    live_server,
    open_tipline,
    watched_tempdir: Path,
    blob_storage: Path,
    tmp_path: Path,
    caplog,
    monkeypatch,
) -> None:
    """The same search after a file sent ahead in pieces (tus), cut mid-chunk and resumed.

    The upload runs over a real server in this process (uvicorn in a thread on
    127.0.0.1), so the watcher also sees its open, deleted files; the form is
    then posted to the live server with the upload's token and the secret.
    """
    from tests.intake.tus_support import SocketTusClient, ThreadedServer, b64
    from tipline.intake import resumable
    from tipline.intake.tus import application
    from tipline.models import PendingUpload

    caplog.set_level(logging.DEBUG)
    binary = big_binary_with_canary(8 * 1024 * 1024)
    name = f"{CANARY}.bin"
    browser = Browser(live_server.url)
    page = browser.get("/es/")
    form_token = re.search(r'name="form_token" value="([^"]+)"', page.text).group(1)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)

    watcher = TempWatcher(watched_tempdir, CANARY.encode())
    # The spool, read while the file arrives, its open files included.
    spool_watcher = TempWatcher(resumable.spool_dir(), CANARY.encode())
    watcher.start()
    spool_watcher.start()
    with ThreadedServer(application) as server:
        client = SocketTusClient(form_token=form_token, port=server.port)
        created = client.create(len(binary), name)
        assert created.status == 201
        location = created["Location"]
        # Cut 1000 bytes into a chunk, a third of the way: the marker at size // 3 is in flight.
        cut = (len(binary) // 3 // 65536) * 65536 + 1000
        client.patch_cut(location, 0, binary, cut)
        offset = int(client.head(location)["Upload-Offset"])
        assert 0 < offset < cut and offset % 65536 == 0
        done = client.patch(location, offset, [binary[offset:]])
        assert done.status == 204 and done["Upload-Offset"] == str(len(binary))
    body, content_type = encode_multipart(
        {
            "csrfmiddlewaretoken": csrf,
            "form_token": form_token,
            "note": "",
            "links": "",
            "upload": location.rsplit("/", 1)[1],
            "upload_secret": client.secret,
            "upload_form": client.form_id,
        },
        [],
    )
    response = browser.request(
        "POST",
        "/es/send/",
        body,
        {"Content-Type": content_type, "Origin": live_server.url},
    )
    for each in (watcher, spool_watcher):
        each.stop.set()
        each.join()

    assert response.status == 200, response.text[:2000]
    assert watcher.hits == [] and spool_watcher.hits == []
    assert any("/proc/self/fd/" in seen for seen in spool_watcher.files_seen)  # not vacuous
    assert not PendingUpload.objects.exists()
    assert all_files_under(resumable.spool_dir()) == []
    tip = Tip.objects.get()
    assert [a.state for a in tip.attachments.all()] == [Attachment.State.DONE]

    needles = [
        CANARY.encode(),
        CANARY.encode("utf-16-le"),
        b64(name).encode(),
        client.secret.encode(),
    ]
    searched = [
        Path(settings.DATABASES["default"]["TEST"]["NAME"]),
        *all_files_under(blob_storage, Path(settings.DATA_DIR), watched_tempdir),
    ]
    for path in searched:
        content = path.read_bytes()
        for needle in needles:
            assert needle not in content, f"{needle!r} found in {path}"
    assert CANARY not in caplog.text and client.secret not in caplog.text

    out = tmp_path / "export"
    monkeypatch.setenv("TIPLINE_RECOVERY_PASSPHRASE", RECOVERY_PASSPHRASE)
    call_command("export_tips", "--recovery-key", str(open_tipline.path), "--output", str(out))
    assert (out / tip.reference / "files" / name).read_bytes() == binary
