"""The resumable uploads through the real router (tipline/server/asgi.py) and its Django bridge.

tests/intake/test_tus.py drives the application alone; here uvicorn serves
the whole server, so the database work runs in the bridge's source threads
and the body goes through the router's rate guard, as in production.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from tests.intake.tus_support import SocketTusClient, b64
from tipline.crypto import DEFAULT_CHUNK_SIZE
from tipline.intake import resumable
from tipline.intake.form_token import form_token_issue
from tipline.models import PendingUpload

CS = DEFAULT_CHUNK_SIZE


def test_an_upload_cut_and_resumed_through_the_router(
    start_server, open_tipline, settings, tmp_path: Path
) -> None:
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    served = start_server()
    client = SocketTusClient(form_token=form_token_issue(), port=served.port)
    data = secrets.token_bytes(6 * CS + 11)
    created = client.create(len(data), "río.mov")
    assert created.status == 201, created
    location = created["Location"]
    assert "content-security-policy" in created.headers
    client.patch_cut(location, 0, data, 3 * CS + 500)
    head = client.head(location)
    assert head.status == 200 and head["Upload-Offset"] == str(3 * CS)
    done = client.patch(location, 3 * CS, [data[3 * CS :]])
    assert done.status == 204 and done["Upload-Offset"] == str(len(data))
    pending = PendingUpload.objects.get()
    assert pending.blob and pending.offset == len(data)
    assert not list(resumable.spool_dir().iterdir())
    # A cross-site request gets no further than the same-origin rule.
    stranger = SocketTusClient(
        form_token=client.form_token, port=served.port, origin={"Sec-Fetch-Site": "cross-site"}
    )
    assert stranger.head(location).status == 403
    assert b64("río.mov") not in str(created.headers)
