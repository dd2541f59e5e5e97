"""Settings: safe defaults, generated secrets, and misconfiguration as one clear line."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_manage(
    *args: str, env_extra: dict[str, str], data_dir: Path
) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TIPLINE_", "DATABASE_", "CELERY_", "AWS_", "SECRET_KEY", "DEBUG"))
    }
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "TIPLINE_DATA_DIR": str(data_dir)})
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRINT_SETTINGS = "from django.conf import settings as s; print(s.DEBUG, s.CELERY_TASK_ALWAYS_EAGER, s.DATABASES['default']['ENGINE'], s.STORAGES['default']['BACKEND'])"


def test_defaults_are_embedded_and_safe(tmp_path: Path) -> None:
    result = run_manage(
        "shell", "-v", "0", "-c", PRINT_SETTINGS, env_extra={}, data_dir=tmp_path / "data"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "False",
        "True",
        "django.db.backends.sqlite3",
        "tipline.storage.BlobFileSystemStorage",
    ]


def test_secret_key_is_generated_private_and_stable(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    show = "from django.conf import settings; print(settings.SECRET_KEY)"
    first = run_manage("shell", "-v", "0", "-c", show, env_extra={}, data_dir=data_dir)
    second = run_manage("shell", "-v", "0", "-c", show, env_extra={}, data_dir=data_dir)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout and len(first.stdout.strip()) >= 50
    mode = stat.S_IMODE((data_dir / "secret_key").stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


def test_secret_key_file_variant_is_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("a-secret-from-a-file-" + "x" * 40 + "\n")
    show = "from django.conf import settings; print(settings.SECRET_KEY)"
    result = run_manage(
        "shell",
        "-v",
        "0",
        "-c",
        show,
        env_extra={"SECRET_KEY_FILE": str(secret)},
        data_dir=tmp_path / "d",
    )
    assert result.stdout.strip() == "a-secret-from-a-file-" + "x" * 40
    assert not (tmp_path / "d" / "secret_key").exists()


@pytest.mark.parametrize(
    ("env_extra", "expected"),
    [
        ({"TIPLINE_STORAGE": "floppy"}, "TIPLINE_STORAGE must be 'local' or 's3', not 'floppy'"),
        (
            {"SECRET_KEY_FILE": "/nonexistent/secret"},
            "SECRET_KEY_FILE: cannot read /nonexistent/secret: No such file or directory",
        ),
        ({"DEBUG": "maybe"}, "DEBUG must be true or false, not 'maybe'"),
        ({"TIPLINE_MAX_FILES": "many"}, "TIPLINE_MAX_FILES must be a whole number, not 'many'"),
        ({"TIPLINE_STORAGE": "s3"}, "TIPLINE_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME"),
        (
            {"DATABASE_URL": "nonsense://user:hunter2@host/db"},
            "DATABASE_URL is not a valid database URL",
        ),
    ],
)
def test_misconfiguration_stops_with_one_clear_line(tmp_path: Path, env_extra, expected) -> None:
    result = run_manage("check", env_extra=env_extra, data_dir=tmp_path / "data")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == [f"tipline: configuration error: {expected}"], result.stderr
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr


def test_every_model_change_has_a_checked_in_migration(tmp_path: Path) -> None:
    result = run_manage(
        "makemigrations", "--check", "--dry-run", env_extra={}, data_dir=tmp_path / "d"
    )
    assert result.returncode == 0, result.stdout + result.stderr
