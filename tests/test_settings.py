"""Settings: safe defaults, generated secrets, and misconfiguration as one clear line."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from config.bootstrap import prepare_data_dir
from config.env import envchoice, envint

ROOT = Path(__file__).resolve().parent.parent
# What the surrounding shell or pytest set that the settings would read.
INHERITED_PREFIXES = (
    "TIPLINE_",
    "DATABASE_",
    "CELERY_",
    "AWS_",
    "CACHE_URL",
    "EMAIL_",
    "SECURE_",
    "SECRET_KEY",
    "DEBUG",
    "LOG_LEVEL",
)


def run_manage(
    *args: str, env_extra: dict[str, str], data_dir: Path
) -> subprocess.CompletedProcess:
    return run_python("manage.py", *args, env_extra=env_extra, data_dir=data_dir)


def run_python(
    *args: str, env_extra: dict[str, str], data_dir: Path
) -> subprocess.CompletedProcess:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(INHERITED_PREFIXES)
    }
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "TIPLINE_DATA_DIR": str(data_dir)})
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, *args],
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


# --- Range checks: every number and every choice is checked at start-up ------------------

OUT_OF_RANGE = {
    "daily run hour": (
        {"TIPLINE_DAILY_RUN_HOUR": "25"},
        "TIPLINE_DAILY_RUN_HOUR must be between 0 and 23, not 25",
    ),
    "negative hour": (
        {"TIPLINE_DAILY_RUN_HOUR": "-1"},
        "TIPLINE_DAILY_RUN_HOUR must be between 0 and 23, not -1",
    ),
    "granularity zero": (
        {"TIPLINE_RECEIVED_GRANULARITY_HOURS": "0"},
        "TIPLINE_RECEIVED_GRANULARITY_HOURS must be between 1 and 24, not 0",
    ),
    "granularity over a day": (
        {"TIPLINE_RECEIVED_GRANULARITY_HOURS": "48"},
        "TIPLINE_RECEIVED_GRANULARITY_HOURS must be between 1 and 24, not 48",
    ),
    "granularity not dividing the day": (
        {"TIPLINE_RECEIVED_GRANULARITY_HOURS": "5"},
        "TIPLINE_RECEIVED_GRANULARITY_HOURS must divide 24 (1, 2, 3, 4, 6, 8, 12 or 24), not 5",
    ),
    "file size": ({"TIPLINE_MAX_FILE_MB": "0"}, "TIPLINE_MAX_FILE_MB must be at least 1, not 0"),
    "tip size": ({"TIPLINE_MAX_TIP_MB": "0"}, "TIPLINE_MAX_TIP_MB must be at least 1, not 0"),
    "tip smaller than a file": (
        {"TIPLINE_MAX_FILE_MB": "200", "TIPLINE_MAX_TIP_MB": "100"},
        "TIPLINE_MAX_TIP_MB (100) must not be smaller than TIPLINE_MAX_FILE_MB (200)",
    ),
    "file count": ({"TIPLINE_MAX_FILES": "0"}, "TIPLINE_MAX_FILES must be at least 1, not 0"),
    "note length": (
        {"TIPLINE_MAX_NOTE_CHARS": "50001"},
        "TIPLINE_MAX_NOTE_CHARS must be between 1 and 50000, not 50001",
    ),
    "link count": (
        {"TIPLINE_MAX_LINKS": "101"},
        "TIPLINE_MAX_LINKS must be between 0 and 100, not 101",
    ),
    "flood threshold": (
        {"TIPLINE_FLOOD_TIPS_PER_HOUR": "0"},
        "TIPLINE_FLOOD_TIPS_PER_HOUR must be between 1 and 1000000, not 0",
    ),
    "flood threshold too high": (
        {"TIPLINE_FLOOD_TIPS_PER_HOUR": "1000001"},
        "TIPLINE_FLOOD_TIPS_PER_HOUR must be between 1 and 1000000, not 1000001",
    ),
    "form token hours": (
        {"TIPLINE_FORM_TOKEN_HOURS": "0"},
        "TIPLINE_FORM_TOKEN_HOURS must be between 1 and 72, not 0",
    ),
    "form token hours too long": (
        {"TIPLINE_FORM_TOKEN_HOURS": "73"},
        "TIPLINE_FORM_TOKEN_HOURS must be between 1 and 72, not 73",
    ),
    "purge batch": (
        {"TIPLINE_PURGE_BATCH_SIZE": "0"},
        "TIPLINE_PURGE_BATCH_SIZE must be at least 1, not 0",
    ),
    "abandoned uploads": (
        {"TIPLINE_ABANDONED_UPLOAD_HOURS": "0"},
        "TIPLINE_ABANDONED_UPLOAD_HOURS must be at least 1, not 0",
    ),
    "session hours": (
        {"TIPLINE_SESSION_HOURS": "0"},
        "TIPLINE_SESSION_HOURS must be at least 1, not 0",
    ),
    "failures before lock": (
        {"TIPLINE_LOGIN_FAILURES_BEFORE_LOCK": "0"},
        "TIPLINE_LOGIN_FAILURES_BEFORE_LOCK must be at least 1, not 0",
    ),
    "lock minutes": (
        {"TIPLINE_LOGIN_LOCK_MINUTES": "1441"},
        "TIPLINE_LOGIN_LOCK_MINUTES must be between 1 and 1440, not 1441",
    ),
    "task time limit": (
        {"TIPLINE_TASK_TIME_LIMIT": "60"},
        "TIPLINE_TASK_TIME_LIMIT must be at least 120, not 60",
    ),
    "storage reserve": (
        {"TIPLINE_STORAGE_RESERVE_MB": "-1"},
        "TIPLINE_STORAGE_RESERVE_MB must be at least 0, not -1",
    ),
    "source threads": (
        {"TIPLINE_SOURCE_CONCURRENCY": "0"},
        "TIPLINE_SOURCE_CONCURRENCY must be between 1 and 256, not 0",
    ),
    "staff threads": (
        {"TIPLINE_STAFF_CONCURRENCY": "1000"},
        "TIPLINE_STAFF_CONCURRENCY must be between 1 and 256, not 1000",
    ),
    "request body": (
        {"TIPLINE_MAX_REQUEST_BODY_KB": "10"},
        "TIPLINE_MAX_REQUEST_BODY_KB must be between 64 and 65536, not 10",
    ),
    "header timeout": (
        {"TIPLINE_HEADER_TIMEOUT_SECONDS": "0"},
        "TIPLINE_HEADER_TIMEOUT_SECONDS must be between 1 and 3600, not 0",
    ),
    "minimum upload rate": (
        {"TIPLINE_MIN_UPLOAD_BYTES_PER_SECOND": "0"},
        "TIPLINE_MIN_UPLOAD_BYTES_PER_SECOND must be between 1 and 1048576, not 0",
    ),
    "minimum rate window": (
        {"TIPLINE_MIN_UPLOAD_WINDOW_SECONDS": "7200"},
        "TIPLINE_MIN_UPLOAD_WINDOW_SECONDS must be between 1 and 3600, not 7200",
    ),
    "connection age": (
        {"DATABASE_CONN_MAX_AGE": "-5"},
        "DATABASE_CONN_MAX_AGE must be at least 0, not -5",
    ),
    "email port": ({"EMAIL_PORT": "65536"}, "EMAIL_PORT must be between 1 and 65535, not 65536"),
    "email port zero": ({"EMAIL_PORT": "0"}, "EMAIL_PORT must be between 1 and 65535, not 0"),
    "hsts seconds": (
        {"TIPLINE_HTTPS": "true", "SECURE_HSTS_SECONDS": "-1"},
        "SECURE_HSTS_SECONDS must be at least 0, not -1",
    ),
    "log level": (
        {"LOG_LEVEL": "LOUD"},
        "LOG_LEVEL must be 'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL', not 'LOUD'",
    ),
    "addressing style": (
        {
            "TIPLINE_STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": "tips",
            "AWS_S3_ADDRESSING_STYLE": "sideways",
        },
        "AWS_S3_ADDRESSING_STYLE must be 'auto', 'virtual' or 'path', not 'sideways'",
    ),
    "onion url": (
        {"TIPLINE_ONION_URL": "https://tips.example.org"},
        "TIPLINE_ONION_URL must be an http:// or https:// address ending in .onion, "
        "not 'https://tips.example.org'",
    ),
}


@pytest.mark.parametrize(
    ("env_extra", "expected"), list(OUT_OF_RANGE.values()), ids=list(OUT_OF_RANGE)
)
def test_out_of_range_values_stop_start_up(tmp_path: Path, env_extra, expected) -> None:
    result = run_manage("check", env_extra=env_extra, data_dir=tmp_path / "data")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [f"tipline: configuration error: {expected}"]


def test_values_at_the_edges_of_their_ranges_are_accepted(tmp_path: Path) -> None:
    edges = {
        "TIPLINE_DAILY_RUN_HOUR": "0",
        "TIPLINE_RECEIVED_GRANULARITY_HOURS": "6",
        "TIPLINE_MAX_FILE_MB": "1",
        "TIPLINE_MAX_TIP_MB": "1",
        "TIPLINE_MAX_LINKS": "0",
        "TIPLINE_FLOOD_TIPS_PER_HOUR": "1",
        "TIPLINE_FORM_TOKEN_HOURS": "72",
        "TIPLINE_LOGIN_LOCK_MINUTES": "1440",
        "TIPLINE_TASK_TIME_LIMIT": "120",
        "EMAIL_PORT": "65535",
        "LOG_LEVEL": "warning",
        "TIPLINE_ONION_URL": "http://" + "a" * 56 + ".onion",
    }
    show = (
        "from django.conf import settings as s; print(s.TIPLINE_DAILY_RUN_HOUR, "
        "s.CELERY_TASK_SOFT_TIME_LIMIT, s.LOGGING['root']['level'])"
    )
    result = run_manage("shell", "-v", "0", "-c", show, env_extra=edges, data_dir=tmp_path / "d")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "60", "WARNING"]


@pytest.mark.parametrize(
    ("env_extra", "expected"),
    [
        ({"PORT": "70000"}, "PORT must be between 1 and 65535, not 70000"),
        ({"WEB_WORKERS": "0"}, "WEB_WORKERS must be between 1 and 64, not 0"),
        ({"WEB_WORKERS": "none"}, "WEB_WORKERS must be a whole number, not 'none'"),
    ],
)
def test_web_server_settings_are_checked_too(tmp_path: Path, env_extra, expected) -> None:
    load = "from config.server import uvicorn_options; uvicorn_options()"
    result = run_python("-c", load, env_extra=env_extra, data_dir=tmp_path / "data")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [f"tipline: configuration error: {expected}"]


def test_the_range_helpers_name_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("SOME_HOUR", "24")
    with pytest.raises(SystemExit, match="SOME_HOUR must be between 0 and 23, not 24"):
        envint("SOME_HOUR", 3, minimum=0, maximum=23)
    monkeypatch.setenv("SOME_HOUR", "")
    assert envint("SOME_HOUR", 3, minimum=0, maximum=23) == 3
    monkeypatch.setenv("SOME_CHOICE", "Info")
    assert envchoice("SOME_CHOICE", "DEBUG", ["DEBUG", "INFO"], ignore_case=True) == "INFO"
    with pytest.raises(SystemExit, match="SOME_CHOICE must be 'DEBUG' or 'INFO', not 'Info'"):
        envchoice("SOME_CHOICE", "DEBUG", ["DEBUG", "INFO"])


# --- Start-up writes, importing does not ----------------------------------------------------

IMPORT_AND_SET_UP = (
    "import django; django.setup(); from django.conf import settings; settings.DEBUG"
)


def test_importing_the_settings_writes_nothing(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    result = run_python("-c", IMPORT_AND_SET_UP, env_extra={"SECRET_KEY": "k" * 50}, data_dir=fresh)
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_without_a_key_importing_the_settings_says_how_to_start(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    result = run_python("-c", IMPORT_AND_SET_UP, env_extra={}, data_dir=fresh)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"tipline: configuration error: SECRET_KEY is not set and {fresh / 'secret_key'} "
        "does not exist: start through manage.py, config.wsgi, config.asgi or "
        "`celery -A config`, which create it"
    ]
    assert list(tmp_path.iterdir()) == []


def test_manage_py_prepares_a_fresh_data_dir(tmp_path: Path) -> None:
    fresh = tmp_path / "a" / "fresh"
    result = run_manage("check", env_extra={}, data_dir=fresh)
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in fresh.iterdir()) == [
        "second_factor_key",
        "secret_key",
    ]


def _clean_environment(monkeypatch, data_dir: Path) -> None:
    for name in (
        "SECRET_KEY",
        "SECRET_KEY_FILE",
        "CACHE_URL",
        "CACHE_URL_FILE",
        "TIPLINE_SECOND_FACTOR_KEY",
        "TIPLINE_SECOND_FACTOR_KEY_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TIPLINE_DATA_DIR", str(data_dir))


def test_the_bootstrap_makes_a_private_data_dir_and_key(tmp_path: Path, monkeypatch) -> None:
    data_dir = tmp_path / "new" / "data"
    _clean_environment(monkeypatch, data_dir)
    assert prepare_data_dir() == data_dir
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert not (data_dir / "cache").exists()  # the cache lives in memory (tipline/intake/cache.py)
    key_file = data_dir / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text()
    assert len(key.strip()) >= 50
    prepare_data_dir()  # every process runs it: the second time changes nothing
    assert key_file.read_text() == key


def test_the_bootstrap_leaves_configured_secrets_and_planted_links_alone(
    tmp_path: Path, monkeypatch
) -> None:
    data_dir = tmp_path / "data"
    _clean_environment(monkeypatch, data_dir)
    monkeypatch.setenv("SECRET_KEY", "k" * 50)
    monkeypatch.setenv("CACHE_URL", "redis://127.0.0.1:6379/1")
    monkeypatch.setenv("TIPLINE_SECOND_FACTOR_KEY", "f" * 50)
    prepare_data_dir()
    assert list(data_dir.iterdir()) == []

    monkeypatch.delenv("SECRET_KEY")
    target = tmp_path / "elsewhere"
    (data_dir / "secret_key").symlink_to(target)
    prepare_data_dir()
    assert not target.exists()
