"""Hostile file names: what is stored, what the staff pages show, what the export writes.

Names are stored encrypted, so the checks are on what comes back out: the
decrypted stored name, the tip page and download warning an editor sees, the
download header, and the folder ``export_tips`` writes (``safe_filename``).
Names arrive both as browsers send them (``filename="..."``) and RFC 2231
encoded (``filename*=UTF-8''...``), which lets a client put any byte in a name.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from urllib.parse import quote

import pytest
from django.test import Client, TestCase
from django.utils.html import escape

from tests.security._support import assert_no_server_error
from tests.triage.helpers import signed_in_client
from tipline.export import tip_export
from tipline.filenames import MAX_NAME_BYTES, safe_filename
from tipline.intake.form_token import form_token_issue
from tipline.keyring import tip_key_unwrap
from tipline.models import Tip
from tipline.sealed import attachment_name_open

pytestmark = pytest.mark.django_db

HOSTILE_NAMES = [
    "../../etc/passwd",
    "..\\..\\Windows\\System32\\drivers\\etc\\hosts",
    "/etc/shadow",
    "C:\\boot.ini",
    "nul\x00byte.txt",
    "crlf\r\nSet-Cookie: stolen=1.txt",
    "invoice\u202egpj.exe",
    "zero\u200bwidth\u2066isolate.pdf",
    "n" * 1000 + ".pdf",
    "ñ" * 300 + ".jpg",
    "CON",
    "con.txt",
    "LPT1.log",
    "aux.tar.gz",
    ".htaccess",
    "...",
    "name.",
    " spaced .txt ",
    "tab\there.txt",
    'quote".txt',
    "<script>alert(1)</script>.html",
]
# Django refuses part headers over 1 KiB, so the form gets long names that still fit.
FORM_NAMES = [
    name if len(name) < 100 else name[0] * 120 + "." + name.rpartition(".")[2]
    for name in HOSTILE_NAMES
]
SEPARATORS_AND_CONTROLS = {"/", "\\", "\x00", "\r", "\n", "\t", "\u202e", "\u200b", "\u2066"}


def assert_safe_on_disk(name: str) -> None:
    assert name and name not in {".", ".."}, repr(name)
    assert not name.startswith((".", " ")), repr(name)
    assert not any(char in SEPARATORS_AND_CONTROLS for char in name), repr(name)
    assert not any(unicodedata.category(char)[0] == "C" for char in name), repr(name)
    assert not any(char in '<>:"|?*' for char in name), repr(name)
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES, len(name)
    assert name.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL", "LPT1", "COM1"}, name


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_safe_filename_defuses_every_hostile_name(name):
    safe = safe_filename(name, fallback="file-1")
    assert_safe_on_disk(safe)


def test_safe_filename_keeps_the_real_extension():
    assert safe_filename("invoice\u202egpj.exe", fallback="f").endswith(".exe")
    assert safe_filename("n" * 1000 + ".pdf", fallback="f").endswith(".pdf")
    assert safe_filename("ñ" * 300 + ".jpg", fallback="f").endswith(".jpg")


def multipart_with_names(names: list[str]) -> tuple[bytes, str]:
    token = form_token_issue()  # the form's single-use token, as the landing page embeds it
    parts = [
        b'--B\r\nContent-Disposition: form-data; name="note"\r\n\r\nfiles\r\n',
        f'--B\r\nContent-Disposition: form-data; name="form_token"\r\n\r\n{token}\r\n'.encode(),
    ]
    for index, name in enumerate(names):
        if index % 2:  # every other name RFC 2231 encoded: any byte can get through
            disposition = f"filename*=UTF-8''{quote(name, safe='')}"
        else:
            disposition = 'filename="{}"'.format(
                name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
            )
        parts.append(
            f'--B\r\nContent-Disposition: form-data; name="files"; {disposition}\r\n'.encode()
            + b"Content-Type: application/octet-stream\r\n\r\ncontent\r\n"
        )
    return b"".join(parts) + b"--B--\r\n", "multipart/form-data; boundary=B"


@pytest.fixture
def hostile_tip(open_tipline, editor, settings) -> Tip:
    settings.TIPLINE_MAX_FILES = settings.DATA_UPLOAD_MAX_NUMBER_FILES = 30
    data, content_type = multipart_with_names(FORM_NAMES)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = Client().generic("POST", "/es/send/", data, content_type=content_type)
    assert response.status_code == 200, response.content[:500]
    return Tip.objects.get()


def stored_names(tip: Tip, recovery) -> list[str]:
    key = tip_key_unwrap(tip=tip, recipient=recovery.recipient, private_key=recovery.private_key)
    return [attachment_name_open(a, tip_key=key) for a in tip.attachments.order_by("position")]


def test_stored_names_carry_no_path_or_control_character(hostile_tip, open_tipline):
    names = stored_names(hostile_tip, open_tipline)
    assert len(names) >= len(FORM_NAMES) - 2  # "." and ".."-like names may be dropped
    for name in names:
        assert "/" not in name and "\\" not in name, repr(name)
        assert not any(not char.isprintable() for char in name), repr(name)


def test_the_staff_pages_show_hostile_names_inert(hostile_tip, editor, open_tipline):
    client = signed_in_client(editor)
    page = client.get(f"/staff/tips/{hostile_tip.reference}/")
    assert page.status_code == 200
    html = page.content.decode()
    for name in stored_names(hostile_tip, open_tipline):
        assert escape(name) in html
    assert "<script>alert(1)" not in html
    assert "\u202e" not in html and "\x00" not in html
    for number in range(1, hostile_tip.attachments.count() + 1):
        url = f"/staff/tips/{hostile_tip.reference}/files/{number}/"
        warning = client.get(url)
        assert_no_server_error(warning, label=url)
        assert "<script>alert(1)" not in warning.content.decode()
        download = client.get(url, {"confirm": "1"})
        assert_no_server_error(download, label=url)
        header = download["Content-Disposition"]
        assert "\r" not in header and "\n" not in header and "/" not in header.split("''")[-1]
        assert "stolen" not in download.cookies


def test_the_export_writes_every_file_inside_its_folder(hostile_tip, open_tipline, tmp_path):
    out = tmp_path / "export"
    out.mkdir()
    folder = tip_export(
        tip=hostile_tip,
        recipient=open_tipline.recipient,
        private_key=open_tipline.private_key,
        output_dir=out,
    )
    written = [p for p in Path(folder, "files").iterdir() if not p.name.endswith(".report.txt")]
    assert len(written) == hostile_tip.attachments.count()
    for path in written:
        assert path.parent == folder / "files"
        assert path.resolve().is_relative_to(out.resolve())
        assert_safe_on_disk(path.name)
        assert path.read_bytes() == b"content"
    assert not (tmp_path / "etc").exists() and not Path("/etc/passwd.report.txt").exists()
    assert len({p.name.lower() for p in written}) == len(written)  # nothing overwritten


def test_a_name_too_long_for_a_part_header_is_refused_cleanly(open_tipline, blob_storage):
    data, content_type = multipart_with_names(["n" * 2000 + ".pdf"])
    response = Client().generic("POST", "/es/send/", data, content_type=content_type)
    assert_no_server_error(response)
    assert response.status_code == 400
    assert not Tip.objects.exists()
