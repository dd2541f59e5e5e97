"""The resumable-upload protocol (tus 1.0.0 core + creation), driven as a server would drive it.

Each test calls the ASGI application itself (tests/intake/tus_support.py):
creation, a PATCH cut mid-chunk and resumed from the offset HEAD gives, the
refusals (409, 403, 413, 415, 412, 405, 404), the same-origin rule, takeover
of a stalled request, and what is at rest meanwhile: nothing readable.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync

from tests.conftest import all_files_under
from tests.intake.tus_support import (
    HOST,
    Disconnect,
    Stall,
    TusClient,
    b64,
    call_async,
    new_secret,
)
from tests.security._support import assert_pinned_headers
from tipline.crypto import DEFAULT_CHUNK_SIZE, decrypt_bytes, stream_prefix_length
from tipline.intake import resumable, tus
from tipline.models import PendingUpload
from tipline.sealed import Part, file_object_id, pending_name_open, pending_tip_key_open
from tipline.storage import read_blob, spool_name_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("data_dir")]

CS = DEFAULT_CHUNK_SIZE


def spool_files() -> list[Path]:
    return all_files_under(resumable.spool_dir())


def token_of(location: str) -> str:
    return location.rsplit("/", 1)[1]


def blob_plaintext(token: str, client: TusClient) -> bytes:
    pending = PendingUpload.objects.get(token=token)
    tip_key = pending_tip_key_open(pending, secret=resumable.secret_parse(client.secret))
    object_id = file_object_id(
        tip_key_id=pending.tip_key_id, file_key_id=pending.file_key_id, part=Part.RAW
    )
    return decrypt_bytes(read_blob(pending.blob), tip_key=tip_key, object_id=object_id)


# --- Discovery and creation ----------------------------------------------------------------------


def test_options_says_what_is_supported(open_tipline, settings) -> None:
    response = TusClient().call("OPTIONS", "/es/uploads/")
    assert response.status == 204
    assert response["Tus-Version"] == "1.0.0"
    assert response["Tus-Extension"] == "creation"
    assert response["Tus-Max-Size"] == str(settings.TIPLINE_MAX_FILE_BYTES)
    assert_pinned_headers(response, label="OPTIONS")


def test_creation_stores_nothing_readable(open_tipline, data_dir: Path) -> None:
    client = TusClient()
    name = f"secreto-{secrets.token_hex(4)}.mp4"
    response = client.create(5 * CS + 123, name)
    assert response.status == 201
    assert response["Location"].startswith("/es/uploads/")
    assert response["Upload-Offset"] == "0"
    assert_pinned_headers(response, label="creation")
    pending = PendingUpload.objects.get()
    assert pending.token == token_of(response["Location"])
    assert (pending.length, pending.offset, pending.blob) == (5 * CS + 123, 0, "")
    assert name.encode() not in bytes(pending.name_sealed)
    # Only the page's secret opens the tip key, and with it the name.
    tip_key = pending_tip_key_open(pending, secret=resumable.secret_parse(client.secret))
    assert pending_name_open(pending, tip_key=tip_key) == name
    # The spool file holds the stream's header only, private from the first instant.
    [spool] = spool_files()
    assert spool.stat().st_size == stream_prefix_length(CS, 0)
    assert stat.S_IMODE(spool.stat().st_mode) == 0o600
    for folder in (data_dir / "spool", data_dir / "spool" / "uploads"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert name.encode() not in spool.read_bytes()


def test_head_gives_offset_and_length(open_tipline) -> None:
    client = TusClient()
    location = client.create(1000)["Location"]
    response = client.head(location)
    assert response.status == 200
    assert (response["Upload-Offset"], response["Upload-Length"]) == ("0", "1000")
    assert "no-store" in response["Cache-Control"]
    assert_pinned_headers(response, label="HEAD")


def test_all_files_of_a_form_share_one_tip_key_and_need_its_secret(open_tipline) -> None:
    client = TusClient()
    assert client.create(10).status == 201
    assert client.create(20).status == 201
    assert len(set(PendingUpload.objects.values_list("tip_key_id", flat=True))) == 1
    # Another page (another secret) cannot add to this form's tip.
    intruder = TusClient(form_token=client.form_token, form_id=client.form_id)
    assert intruder.create(30).status == 403
    # A new page for the same form token (the form shown again) starts its own tip.
    again = TusClient(form_token=client.form_token)
    assert again.create(30).status == 201
    assert len(set(PendingUpload.objects.values_list("tip_key_id", flat=True))) == 2


@pytest.mark.parametrize(
    "form_token, form_id",
    [
        ("", "x" * 22),
        ("not-a-signed-token", "x" * 22),
        (None, ""),
        (None, "short"),
        (None, "ü" * 22),
    ],
)
def test_creation_needs_a_genuine_form(open_tipline, form_token, form_id) -> None:
    client = TusClient(form_id=form_id)
    if form_token is not None:
        client.form_token = form_token
    assert client.create(10).status == 403
    assert not PendingUpload.objects.exists()


@pytest.mark.parametrize(
    "headers",
    [
        {"Upload-Length": None},
        {"Upload-Length": "-1"},
        {"Upload-Length": "ten"},
        {"Content-Length": "10"},
        {"Upload-Metadata": "{form}"},  # no file name
        {"Upload-Metadata": "filename !!!,{form}"},
        {"Upload-Metadata": "filename " + b64(b"\xff\xfe") + ",{form}"},
        {"Upload-Metadata": "filename " + b64("a") + ",filename " + b64("b") + ",{form}"},
        {"Upload-Metadata": "filename " + b64("a" * 2000) + ",{form}"},
    ],
)
def test_malformed_creation_is_refused(open_tipline, headers) -> None:
    client = TusClient()
    form = f"form_token {b64(client.form_token)},form_id {b64(client.form_id)}"
    headers = {k: v.replace("{form}", form) if v else v for k, v in headers.items()}
    response = client.create(10, **headers)
    assert response.status == 400
    assert not PendingUpload.objects.exists()


def test_size_limits_are_refused_with_413(open_tipline, settings) -> None:
    settings.TIPLINE_MAX_FILE_BYTES = 1000
    settings.TIPLINE_MAX_TIP_BYTES = 1500
    settings.TIPLINE_MAX_FILES = 2
    client = TusClient()
    assert client.create(1001).status == 413
    assert client.create(1000).status == 201
    assert client.create(501).status == 413  # the tip's total
    assert client.create(400).status == 201
    assert client.create(1).status == 413  # a third file
    assert PendingUpload.objects.count() == 2


def test_a_patch_longer_than_the_upload_is_refused_with_413(open_tipline) -> None:
    client = TusClient()
    location = client.create(100)["Location"]
    assert client.patch(location, 0, [b"x" * 101]).status == 413
    # Declared short, sent long: refused when the bytes run over.
    response = client.patch(location, 0, [b"x" * 60, b"x" * 60], Content_Length=None)
    assert response.status == 413
    assert client.head(location)["Upload-Offset"] == "0"


def test_a_closed_tipline_creates_no_upload(db) -> None:
    assert TusClient().create(10).status == 503
    assert not PendingUpload.objects.exists()


# --- Writing, cutting, resuming --------------------------------------------------------------------


def test_a_whole_file_arrives_encrypted_and_goes_to_the_storage(
    open_tipline, blob_storage: Path
) -> None:
    client = TusClient()
    data = secrets.token_bytes(3 * CS + 17)
    token = client.upload(data)
    pending = PendingUpload.objects.get(token=token)
    assert (pending.offset, pending.length) == (len(data), len(data))
    assert pending.blob.startswith("raw/")
    assert spool_files() == []  # moved, not copied
    # Into the storage's spool, as every new blob; its batch stores it under its name.
    assert [p.relative_to(blob_storage).as_posix() for p in all_files_under(blob_storage)] == [
        spool_name_of(pending.blob)
    ]
    assert blob_plaintext(token, client) == data
    head = client.head(f"/es/uploads/{token}")
    assert head["Upload-Offset"] == str(len(data))


@pytest.mark.parametrize("size", [0, 1, CS, 2 * CS])
def test_edge_sizes_finish(open_tipline, size: int) -> None:
    client = TusClient()
    data = secrets.token_bytes(size)
    token = client.upload(data, piece=CS)
    assert blob_plaintext(token, client) == data


def test_a_patch_cut_mid_chunk_is_resumed_from_the_last_whole_chunk(open_tipline) -> None:
    client = TusClient()
    data = secrets.token_bytes(10 * CS + 999)
    location = client.create(len(data))["Location"]
    # The connection breaks 1000 bytes into the fourth chunk.
    cut = 3 * CS + 1000
    response = client.patch(location, 0, [data[:CS], data[CS:cut], Disconnect()])
    assert response.status == 204  # (nobody reads it: the client is gone)
    head = client.head(location)
    assert head["Upload-Offset"] == str(3 * CS)
    # The spool holds exactly the header and the three confirmed chunks.
    [spool] = spool_files()
    assert spool.stat().st_size == stream_prefix_length(CS, 3)
    # A stale offset is refused: only the confirmed one continues.
    assert client.patch(location, cut, [data[cut:]]).status == 409
    assert client.patch(location, 0, [data]).status == 409
    # A second break, then the rest from what HEAD says.
    second = 7 * CS + 5
    client.patch(location, 3 * CS, [data[3 * CS : second], Disconnect()])
    offset = int(client.head(location)["Upload-Offset"])
    assert offset == 7 * CS
    done = client.patch(location, offset, [data[offset:]])
    assert done.status == 204 and done["Upload-Offset"] == str(len(data))
    assert blob_plaintext(token_of(location), client) == data


def test_a_resumed_spool_with_leftover_bytes_is_cut_back(open_tipline) -> None:
    """A crash after chunks were written but before they were confirmed: they are redone."""
    client = TusClient()
    data = secrets.token_bytes(6 * CS)
    location = client.create(len(data))["Location"]
    client.patch(location, 0, [data[: 2 * CS + 7], Disconnect()])
    pending = PendingUpload.objects.get()
    assert pending.offset == 2 * CS
    [spool] = spool_files()
    with open(spool, "ab") as handle:
        handle.write(secrets.token_bytes(CS + 16 + 100))  # written, never confirmed
    done = client.patch(location, 2 * CS, [data[2 * CS :]])
    assert done.status == 204
    assert blob_plaintext(token_of(location), client) == data


def test_a_damaged_spool_is_refused_not_continued(open_tipline) -> None:
    client = TusClient()
    data = secrets.token_bytes(4 * CS)
    location = client.create(len(data))["Location"]
    client.patch(location, 0, [data[: 2 * CS + 1], Disconnect()])
    [spool] = spool_files()
    content = bytearray(spool.read_bytes())
    content[-5] ^= 1  # a flipped bit in the last confirmed chunk
    spool.write_bytes(bytes(content))
    assert client.patch(location, 2 * CS, [data[2 * CS :]]).status == 410


def test_offset_mismatch_is_409(open_tipline) -> None:
    client = TusClient()
    location = client.create(100)["Location"]
    assert client.patch(location, 5, [b"x" * 10]).status == 409
    assert client.head(location)["Upload-Offset"] == "0"


def test_a_newer_request_takes_over_from_a_stalled_one(open_tipline) -> None:
    """The server has not noticed that the old connection is dead when the client asks again."""
    client = TusClient()
    data = secrets.token_bytes(5 * CS)
    location = client.create(len(data))["Location"]

    async def scenario() -> tuple[int, str]:
        import asyncio

        stall = Stall()
        old = asyncio.ensure_future(
            call_async(
                "PATCH",
                location,
                client.headers(
                    **{
                        "Upload-Offset": "0",
                        "Content-Type": "application/offset+octet-stream",
                        "Content-Length": str(len(data)),
                    }
                ),
                [data[: 2 * CS + 3], stall, data[2 * CS + 3 :]],
            )
        )
        await stall.reached.wait()
        head = await call_async("HEAD", location, client.headers())
        first = await old
        return first.status, head["Upload-Offset"]

    status, offset = async_to_sync(scenario)()
    assert status == 204
    assert offset == str(2 * CS)  # what the stalled request had, confirmed before HEAD answered
    done = client.patch(location, 2 * CS, [data[2 * CS :]])
    assert done.status == 204
    assert blob_plaintext(token_of(location), client) == data


# --- Refusals --------------------------------------------------------------------------------------


def test_wrong_secret_is_403_and_changes_nothing(open_tipline) -> None:
    client = TusClient()
    location = client.create(100)["Location"]
    for secret in (new_secret(), "", "short", "A" * 43 + "!"):
        other = TusClient(form_token=client.form_token, form_id=client.form_id, secret=secret)
        assert other.head(location).status == 403
        assert other.patch(location, 0, [b"x" * 100]).status == 403
    assert client.head(location)["Upload-Offset"] == "0"


def test_unknown_upload_is_404(open_tipline) -> None:
    client = TusClient()
    assert client.head("/es/uploads/" + "A" * 43).status == 404
    assert client.patch("/es/uploads/" + "A" * 43, 0, [b"x"]).status == 404
    assert client.head("/es/uploads/../../etc").status == 404
    assert client.call("OPTIONS", "/xx/uploads/").status == 404
    assert client.call("POST", "/es/uploads/extra/path").status == 404


def test_wrong_content_type_is_415(open_tipline) -> None:
    client = TusClient()
    location = client.create(10)["Location"]
    response = client.patch(location, 0, [b"x" * 10], Content_Type="application/octet-stream")
    assert response.status == 415


def test_missing_tus_version_is_412(open_tipline) -> None:
    client = TusClient()
    location = client.create(10)["Location"]
    response = client.head(location, Tus_Resumable="0.2.2")
    assert response.status == 412 and response["Tus-Version"] == "1.0.0"


def test_other_methods_are_405(open_tipline) -> None:
    client = TusClient()
    location = client.create(10)["Location"]
    for method, path in (("GET", location), ("DELETE", location), ("PATCH", "/es/uploads/")):
        response = client.call(method, path)
        assert response.status == 405, method
        assert_pinned_headers(response, label=method)


@pytest.mark.parametrize(
    "origin",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "none"},
        {"Sec-Fetch-Site": "cross-site", "Origin": f"http://{HOST}"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        # Our own pages never send a null or foreign Origin, whatever the other header says.
        {"Origin": "null", "Sec-Fetch-Site": "same-origin"},
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"},
        {},
    ],
)
def test_cross_origin_requests_are_403_without_cors(open_tipline, origin) -> None:
    owner = TusClient()
    location = owner.create(10)["Location"]
    stranger = TusClient(
        form_token=owner.form_token, form_id=owner.form_id, secret=owner.secret, origin=origin
    )
    for response in (
        stranger.call("OPTIONS", "/es/uploads/", Access_Control_Request_Method="PATCH"),
        stranger.create(10),
        stranger.head(location),
        stranger.patch(location, 0, [b"x" * 10]),
    ):
        assert response.status == 403
        assert_pinned_headers(response, label="cross-origin")  # includes: no CORS header
    assert PendingUpload.objects.count() == 1


def test_an_origin_equal_to_the_host_is_same_origin(open_tipline) -> None:
    client = TusClient(origin={"Origin": f"http://{HOST}"})
    assert client.create(10).status == 201


def test_a_host_not_allowed_is_400(open_tipline) -> None:
    client = TusClient()
    response = client.call("OPTIONS", "/es/uploads/", Host="evil.example")
    assert response.status == 400
    assert_pinned_headers(response, label="bad host")


# --- Headers -------------------------------------------------------------------------------------


def test_upload_responses_carry_the_pages_own_policy_headers(client, open_tipline) -> None:
    page = client.get("/es/")
    upload = TusClient().call("OPTIONS", "/es/uploads/")
    for name in (
        "Content-Security-Policy",
        "Permissions-Policy",
        "Cache-Control",
        "Referrer-Policy",
        "X-Frame-Options",
        "X-Content-Type-Options",
        "Cross-Origin-Opener-Policy",
        "Cross-Origin-Resource-Policy",
    ):
        assert upload[name] == page[name], name


def test_hsts_over_https_as_on_the_pages(open_tipline, settings) -> None:
    settings.SECURE_HSTS_SECONDS = 63072000
    scope_headers = TusClient().headers()
    response = async_to_sync(call_async)("OPTIONS", "/es/uploads/", scope_headers)
    assert response.get("Strict-Transport-Security") is None  # plain http
    scope = tus.site_headers({"scheme": "https", "headers": []})
    assert ("Strict-Transport-Security", "max-age=63072000") in [
        (k, v.split(";")[0]) for k, v in scope
    ]


def test_the_scope_key_is_the_servers() -> None:
    server = pytest.importorskip("tipline.server.asgi")
    assert tus.DJANGO_SCOPE_KEY == server.DJANGO_SCOPE_KEY


def test_nothing_is_logged_of_names_tokens_or_secrets(open_tipline, caplog) -> None:
    caplog.set_level("DEBUG")
    client = TusClient()
    name = f"nombre-{secrets.token_hex(4)}.mov"
    data = secrets.token_bytes(2 * CS + 5)
    created = client.create(len(data), name)
    location = created["Location"]
    client.patch(location, 0, [data[: CS + 1], Disconnect()])
    client.patch(location, CS, [data[CS:]])
    for needle in (name, token_of(location), client.secret, "203.0.113.9"):
        assert needle not in caplog.text


def test_a_spool_is_never_readable(open_tipline) -> None:
    client = TusClient()
    marker = secrets.token_hex(16).encode()
    data = (marker + secrets.token_bytes(1000)) * 300
    location = client.create(len(data))["Location"]
    client.patch(location, 0, [data[: len(data) // 2], Disconnect()])
    [spool] = spool_files()
    assert marker not in spool.read_bytes()
    assert os.stat(spool).st_mtime % 86400 == 0  # dated to the day only


def test_a_storage_error_at_the_end_is_tried_again_and_then_left_to_the_claim(
    open_tipline, monkeypatch
) -> None:
    from tipline.storage import blob_adopt_file

    failures: list[int] = []

    def flaky(path, name):
        if len(failures) < 3:
            failures.append(1)
            raise OSError("the storage is away")
        return blob_adopt_file(path, name)

    monkeypatch.setattr(resumable, "blob_adopt_file", flaky)
    monkeypatch.setattr(resumable.time, "sleep", lambda seconds: None)
    client = TusClient()
    data = secrets.token_bytes(CS + 3)
    location = client.create(len(data))["Location"]
    done = client.patch(location, 0, [data])
    assert done.status == 204 and done["Upload-Offset"] == str(len(data))
    assert len(failures) == 3  # three attempts, all refused: the spool file stays
    [spool] = spool_files()
    pending = PendingUpload.objects.get()
    assert pending.blob and pending.offset == len(data)
    # The next attempt (the claim's) stores it.
    assert resumable.pending_upload_hand_over(pending)
    assert spool_files() == []
    assert blob_plaintext(token_of(location), client) == data


def test_an_upload_another_process_is_writing_is_423(open_tipline) -> None:
    import fcntl

    client = TusClient()
    data = secrets.token_bytes(CS)
    location = client.create(len(data))["Location"]
    [spool] = spool_files()
    other_process = os.open(spool, os.O_RDWR)  # an flock of its own, as another worker's
    fcntl.flock(other_process, fcntl.LOCK_EX)
    try:
        assert client.patch(location, 0, [data]).status == 423
    finally:
        os.close(other_process)
    assert client.patch(location, 0, [data]).status == 204
    assert blob_plaintext(token_of(location), client) == data


def test_a_nearly_full_disk_refuses_new_uploads_and_stops_running_ones(
    open_tipline, monkeypatch, settings
) -> None:
    import shutil
    from collections import namedtuple

    settings.TIPLINE_STORAGE_RESERVE_MB = 10
    usage = namedtuple("usage", "total used free")
    free = {"bytes": 100 * 2**20}
    monkeypatch.setattr(resumable.shutil, "disk_usage", lambda path: usage(0, 0, free["bytes"]))
    client = TusClient()
    assert client.create(95 * 2**20).status == 507  # would leave less than the reserve
    # Past one free-space check (tus.RESERVE_CHECK_EVERY_BYTES) before the end.
    data = secrets.token_bytes(tus.RESERVE_CHECK_EVERY_BYTES + 2 * 2**20)
    location = client.create(len(data))["Location"]
    free["bytes"] = 5 * 2**20  # the disk fills up meanwhile
    response = client.patch(location, 0, [data[i : i + CS] for i in range(0, len(data), CS)])
    assert response.status == 507
    confirmed = int(response["Upload-Offset"])
    assert 0 < confirmed < len(data) and confirmed % CS == 0  # what arrived first counts
    assert client.head(location)["Upload-Offset"] == str(confirmed)
    assert shutil.disk_usage is not None
