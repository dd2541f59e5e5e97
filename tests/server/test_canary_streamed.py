"""The canary over the real server: a streamed upload leaves nothing readable at rest.

The same marker as tests/test_canary.py, planted in the note, a text file and
a 20 MB binary (across the cipher's chunk boundaries), sent through uvicorn
and the streaming intake. While it uploads, a watcher reads every temp file
(and every deleted-but-open one of this process, which runs the server);
afterwards the database, the data directory, the blob store and the temp
folder are searched.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import all_files_under
from tests.http_client import Browser
from tests.test_canary import (  # noqa: F401 - watched_tempdir is a fixture
    CANARY,
    TempWatcher,
    big_binary_with_canary,
    watched_tempdir,
)
from tipline.keyring import tip_key_unwrap
from tipline.models import Attachment, Tip
from tipline.sealed import Part, attachment_blob_open

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.slow
def test_a_streamed_upload_leaves_nothing_readable_at_rest(
    start_server,
    open_tipline,
    watched_tempdir: Path,  # noqa: F811 - the fixture imported above
    blob_storage: Path,
    caplog,
) -> None:
    caplog.set_level(logging.DEBUG)
    served = start_server()
    binary = big_binary_with_canary()
    text_file = f"primera línea\n{CANARY}\núltima\n".encode()

    watcher = TempWatcher(watched_tempdir, CANARY.encode())
    watcher.start()
    response = Browser(served.url, user_agent=f"Canary-Agent/{CANARY}").submit_tip(
        note=f"Nota {CANARY}",
        links=f"https://example.org/{CANARY}",
        files=[("texto.txt", text_file), (f"{CANARY}.bin", binary)],
    )
    watcher.stop.set()
    watcher.join()

    assert response.status == 200
    assert watcher.hits == []
    tip = Tip.objects.get()
    attachments = list(tip.attachments.order_by("position"))
    assert [a.state for a in attachments] == [Attachment.State.DONE] * 2

    needles = [CANARY.encode(), CANARY.encode("utf-16-le")]
    searched = [
        Path(settings.DATABASES["default"]["TEST"]["NAME"]),
        *all_files_under(blob_storage, Path(settings.DATA_DIR), watched_tempdir),
    ]
    assert len(searched) > 3
    for path in searched:
        content = path.read_bytes()
        for needle in needles:
            assert needle not in content, f"{needle!r} found in {path}"
    assert CANARY not in caplog.text

    # And the recovery key gives it all back, exactly.
    tip_key = tip_key_unwrap(
        tip=tip, recipient=open_tipline.recipient, private_key=open_tipline.private_key
    )
    for attachment, expected in zip(attachments, (text_file, binary), strict=True):
        with attachment_blob_open(attachment, Part.CLEAN, tip_key=tip_key) as reader:
            assert reader.read() == expected
