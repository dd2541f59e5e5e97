"""`manage.py check --deploy` with the production settings the README documents.

The environment is read from the README's "Production settings" block itself,
so the documentation and the check cannot drift apart. Secrets named by
``*_FILE`` get throw-away files; ``DATABASE_URL`` is left out (the check needs
no database, and SQLite in a temporary data dir stands in).
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
HEADING = "### Production settings"

# What a throw-away file holds for each secret the block names with NAME_FILE.
DUMMY_SECRETS = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "CELERY_BROKER_URL": "redis://:not-a-real-password@127.0.0.1:6379/0",
    "EMAIL_HOST_PASSWORD": "not-a-real-password",
    "AWS_ACCESS_KEY_ID": "not-a-real-key",
    "AWS_SECRET_ACCESS_KEY": "not-a-real-secret",
}
# Anything the surrounding shell or pytest set that the settings would read.
INHERITED_PREFIXES = (
    "TIPLINE_",
    "DATABASE_",
    "CELERY_",
    "AWS_",
    "EMAIL_",
    "SECRET_KEY",
    "SECURE_",
    "CSRF_",
    "ALLOWED_HOSTS",
    "DEBUG",
    "DJANGO_",
)
CHECK_ID = re.compile(r"\(([a-z_]+\.[EW]\d{3})\)")


def documented_environment() -> dict[str, str]:
    """The ``NAME=value`` lines of the README's production block (comments skipped)."""
    text = README.read_text(encoding="utf-8")
    assert HEADING in text, f"README.md has no {HEADING!r} subsection"
    block = text.split(HEADING, 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    env: dict[str, str] = {}
    for raw in block.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f"not a NAME=value line in the production block: {line!r}"
        env[name] = value.strip().strip('"')
    return env


def check_environment(documented: dict[str, str], tmp_path: Path) -> dict[str, str]:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(INHERITED_PREFIXES)
    }
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    for name, value in documented.items():
        if name.startswith("DATABASE_URL"):
            continue
        if name.endswith("_FILE"):
            secret = name.removesuffix("_FILE")
            assert secret in DUMMY_SECRETS, f"add a dummy value for {secret} to this test"
            path = tmp_path / secret.lower()
            path.write_text(DUMMY_SECRETS[secret] + "\n", encoding="utf-8")
            value = str(path)
        env[name] = value
    env["TIPLINE_DATA_DIR"] = str(tmp_path / "data")
    return env


def run_deploy_check(env: dict[str, str]) -> tuple[int, str, set[str]]:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    return result.returncode, output, set(CHECK_ID.findall(output))


def test_the_documented_block_is_a_production_one() -> None:
    documented = documented_environment()
    assert documented.get("TIPLINE_HTTPS") == "true"
    assert documented.get("TIPLINE_BEHIND_PROXY") == "true"
    assert documented.get("DEBUG", "false") == "false"
    assert any(host.endswith(".onion") for host in documented["ALLOWED_HOSTS"].split(","))
    assert documented["CSRF_TRUSTED_ORIGINS"]


def test_documented_production_settings_pass_the_deploy_check(tmp_path: Path) -> None:
    code, output, ids = run_deploy_check(check_environment(documented_environment(), tmp_path))
    assert code == 0, output
    assert "WARNINGS" not in output and "ERRORS" not in output, output
    assert not [line for line in output.splitlines() if line.startswith("?:")], output
    assert not ids, output


def test_insecure_cookies_are_caught_by_our_own_check(tmp_path: Path) -> None:
    # Django skips its W016 once W003 is silenced; tipline/checks.py stands in.
    documented = {**documented_environment(), "TIPLINE_SECURE_COOKIES": "false"}
    code, output, ids = run_deploy_check(check_environment(documented, tmp_path))
    assert code != 0, output
    assert "tipline.W016" in ids, output


def test_without_https_the_deploy_check_warns(tmp_path: Path) -> None:
    documented = documented_environment()
    del documented["TIPLINE_HTTPS"]
    code, output, ids = run_deploy_check(check_environment(documented, tmp_path))
    assert code != 0, output
    assert {"security.W004", "security.W008"} <= ids, output
