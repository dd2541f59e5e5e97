"""The recovery key's command and the offline export it enables."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from tests.intake.helpers import submit_tip
from tipline.crypto import sealed_key_params
from tipline.filenames import safe_filename
from tipline.keyring import dearmor_recovery_key
from tipline.models import Grant, RecipientKey, Tip

pytestmark = pytest.mark.django_db
PASSPHRASE = "a long enough passphrase"


@pytest.fixture(autouse=True)
def a_reader_on_staff(db) -> None:
    """#16: the tip line opens with a recovery key and an editor; these tests make the key."""
    from tests.conftest import tipline_reader_create

    tipline_reader_create()


def create_key(path: Path, monkeypatch, *args: str) -> None:
    monkeypatch.setenv("TIPLINE_RECOVERY_PASSPHRASE", PASSPHRASE)
    call_command("create_recovery_key", "--output", str(path), *args)


def test_create_recovery_key_writes_a_private_sealed_file(tmp_path: Path, monkeypatch) -> None:
    key_file = tmp_path / "recovery.key"
    create_key(key_file, monkeypatch)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    text = key_file.read_text()
    assert text.startswith("-----BEGIN TIPLINE RECOVERY KEY-----")
    assert RecipientKey.objects.filter(kind="recovery", active=True).count() == 1
    # The file someone may steal costs 256 MiB of Argon2id per guess.
    params = sealed_key_params(dearmor_recovery_key(text))
    assert params.memory_cost == 256 * 1024 and params.iterations >= 4


def test_refuses_to_replace_without_rotate(tmp_path: Path, monkeypatch) -> None:
    create_key(tmp_path / "one.key", monkeypatch)
    with pytest.raises(CommandError, match="already exists"):
        create_key(tmp_path / "two.key", monkeypatch)
    assert not (tmp_path / "two.key").exists()
    assert RecipientKey.objects.filter(kind="recovery").count() == 1


def test_short_passphrase_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TIPLINE_RECOVERY_PASSPHRASE", "short")
    with pytest.raises(CommandError, match="at least 12"):
        call_command("create_recovery_key", "--output", str(tmp_path / "k"))


def test_no_terminal_and_no_variable_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("TIPLINE_RECOVERY_PASSPHRASE", raising=False)
    with pytest.raises(CommandError, match="TIPLINE_RECOVERY_PASSPHRASE"):
        call_command("create_recovery_key", "--output", str(tmp_path / "k"))


def export(
    key_file: Path, out: Path, monkeypatch, *args: str, passphrase: str = PASSPHRASE
) -> None:
    monkeypatch.setenv("TIPLINE_RECOVERY_PASSPHRASE", passphrase)
    call_command("export_tips", "--recovery-key", str(key_file), "--output", str(out), *args)


def test_export_gives_back_note_links_and_files(
    client: Client, tmp_path: Path, monkeypatch, pipeline_key
) -> None:
    key_file = tmp_path / "recovery.key"
    create_key(key_file, monkeypatch)
    payload = b"\x00\x01binary\xff" * 1000
    submit_tip(
        client,
        note="Línea uno\nlínea dos",
        links="https://a.example/x\nhttps://b.example/y",
        files=[
            ("../../informe final.bin", payload),
            ("informe final.bin", b"second"),
            ("evil\u202egpj.exe", b"3"),
        ],
    )
    tip = Tip.objects.get()
    export(key_file, tmp_path / "out", monkeypatch)
    folder = tmp_path / "out" / tip.reference
    assert (folder / "note.txt").read_text() == "Línea uno\nlínea dos\n"
    assert (folder / "links.txt").read_text() == "https://a.example/x\nhttps://b.example/y\n"
    files = folder / "files"
    assert (files / "informe final.bin").read_bytes() == payload
    assert (files / "informe final (2).bin").read_bytes() == b"second"
    assert (files / "evilgpj.exe").read_bytes() == b"3"
    assert (files / "informe final.bin.report.txt").exists()
    assert "informe final.bin" in (folder / "summary.txt").read_text()


def test_export_with_wrong_passphrase_fails(
    client: Client, tmp_path: Path, monkeypatch, pipeline_key
) -> None:
    key_file = tmp_path / "recovery.key"
    create_key(key_file, monkeypatch)
    submit_tip(client, note="x")
    with pytest.raises(CommandError, match="wrong passphrase"):
        export(key_file, tmp_path / "out", monkeypatch, passphrase="not the passphrase")
    assert not (tmp_path / "out").exists()


def test_export_of_one_tip(client: Client, tmp_path: Path, monkeypatch, pipeline_key) -> None:
    key_file = tmp_path / "recovery.key"
    create_key(key_file, monkeypatch)
    submit_tip(client, note="first")
    submit_tip(client, note="second")
    wanted = Tip.objects.order_by("id").last()
    export(key_file, tmp_path / "out", monkeypatch, "--tip", wanted.reference.lower())
    assert [p.name for p in (tmp_path / "out").iterdir()] == [wanted.reference]
    with pytest.raises(CommandError, match="no tip"):
        export(key_file, tmp_path / "out2", monkeypatch, "--tip", "NOPE-NOPE-NOPE")


def test_rotation_with_the_old_key_regrants_every_tip(
    client: Client, tmp_path: Path, monkeypatch, pipeline_key
) -> None:
    old_file, new_file = tmp_path / "old.key", tmp_path / "new.key"
    create_key(old_file, monkeypatch)
    submit_tip(client, note="before rotation")
    monkeypatch.setenv("TIPLINE_OLD_RECOVERY_PASSPHRASE", PASSPHRASE)
    create_key(new_file, monkeypatch, "--rotate", "--old-key", str(old_file))
    new_key = RecipientKey.objects.get(kind="recovery", active=True)
    assert Grant.objects.filter(recipient=new_key).count() == 1
    export(new_file, tmp_path / "out", monkeypatch)
    (folder,) = (tmp_path / "out").iterdir()
    assert (folder / "note.txt").read_text() == "before rotation\n"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "_.._etc_passwd"),
        ("photo\u202egpj.exe", "photogpj.exe"),
        ("CON.txt", "_CON.txt"),
        ("...hidden", "hidden"),
        ("", "file-1"),
        ("a\x00b\nc.pdf", "abc.pdf"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name, fallback="file-1") == expected


def test_safe_filename_keeps_the_extension_when_shortening() -> None:
    result = safe_filename("ñ" * 300 + ".jpeg", fallback="f")
    assert result.endswith(".jpeg") and len(result.encode()) <= 150
