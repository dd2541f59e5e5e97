"""Issue 13's forged post from a sibling subdomain, replayed in real headless Chromium.

The tip line is served over HTTPS as ``tipline.test`` (uvicorn with the
project's router, in a thread of this test, like tests/server/conftest.py)
and an attacker's page as ``evil.tipline.test``, both mapped to 127.0.0.1 by
Chromium's ``--host-resolver-rules``, with a certificate made here by the
``openssl`` command. The two are different origins but the same *site*, so
``SameSite=Strict`` cookies still go with a post from one to the other.

An admin (an editor with a key, who may also set the retention policy) signs
in with password and TOTP code, then opens the attacker's pages. Each plants a
CSRF cookie of its own for ``Domain=tipline.test`` with a value it knows
(``document.cookie``), hides its origin with
``<meta name=referrer content=no-referrer>`` (so the browser sends
``Origin: null``) and submits, with the planted token, "share my tips with
carol" and then "keep tips one day".

Before issue 13 both were accepted: carol could read every tip of the admin's,
recorded as the admin's own action, and the policy became one day. Now both
are refused with 403 and nothing changes: carol reads nothing, no audit entry,
the policy as it was, and the admin is still signed in.
"""

from __future__ import annotations

import gc
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from config.server import uvicorn_options
from tests.integration.conftest import CHROMEDRIVER, CHROMIUM
from tests.triage.helpers import StaffAccount, send_tip, staff_account_create
from tipline.models import AuditEntry, Grant, RecipientKey, RetentionPolicy
from tipline.server.asgi import Router

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SITE_HOST = "tipline.test"
ATTACKER_HOST = "evil.tipline.test"
TIPS = 3
# The token the attacker chose: 32 letters and digits, the form of a CSRF secret.
PLANTED_TOKEN = "Planted0Token1Of2The3Attacker456"
FORGED_RETENTION_DAYS = 1


# --- Certificate and servers ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    """A throw-away self-signed certificate for the tip line's name and its subdomains."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={SITE_HOST}",
            "-addext",
            f"subjectAltName=DNS:{SITE_HOST},DNS:*.{SITE_HOST}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return Certificate(cert, key)


@pytest.fixture
def tipline_over_https(certificate: Certificate, settings) -> Iterator[str]:
    """The project's server (router, Django bridge, middleware) on https://tipline.test:PORT."""
    settings.ALLOWED_HOSTS = [SITE_HOST, "testserver"]  # the tips are sent with the test client
    port = free_port()
    options = uvicorn_options()
    options.pop("workers")
    options.update(
        host="127.0.0.1",
        port=port,
        log_config=None,
        timeout_graceful_shutdown=2,
        ssl_certfile=str(certificate.cert),
        ssl_keyfile=str(certificate.key),
    )
    server = uvicorn.Server(uvicorn.Config(Router(), **options))
    thread = threading.Thread(target=server.run, name="test-uvicorn-https", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"https://{SITE_HOST}:{port}"
    server.should_exit = True
    thread.join(timeout=20)
    release_server_connections()


def release_server_connections() -> None:
    """Let the server's thread pools end, and their database connections go with them.

    Django keeps a connection per thread; the pools' threads hold theirs until
    collected, and PostgreSQL will not drop the test database while they are open.
    """
    deadline = time.monotonic() + 20
    while any(t.name.startswith("tipline-") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the server's threads did not end"
        time.sleep(0.05)
    gc.collect()


class AttackerPages(BaseHTTPRequestHandler):
    pages: dict[str, bytes] = {}

    def do_GET(self) -> None:
        body = self.pages.get(self.path)
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Attacker:
    origin: str
    pages: dict[str, bytes]


@pytest.fixture
def attacker_site(certificate: Certificate) -> Iterator[Attacker]:
    """The attacker's HTTPS site on evil.tipline.test: pages are added by the test."""
    pages: dict[str, bytes] = {}
    handler = type("Pages", (AttackerPages,), {"pages": pages})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate.cert, certificate.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name="attacker-https", daemon=True)
    thread.start()
    yield Attacker(f"https://{ATTACKER_HOST}:{server.server_address[1]}", pages)
    server.shutdown()
    server.server_close()


def forging_page(action: str, fields: dict[str, str]) -> bytes:
    """Plant a CSRF cookie for the parent domain, hide the origin, post the form at once."""
    inputs = "".join(
        f'<input type="hidden" name="{name}" value="{value}">' for name, value in fields.items()
    )
    planted = f"={PLANTED_TOKEN}; Domain={SITE_HOST}; Path=/; Secure"
    return f"""<!doctype html>
<meta name="referrer" content="no-referrer">
<form id="forged" method="post" action="{action}">{inputs}</form>
<script>
  // The site's cookie names, old and new; a browser refuses the second one
  // from any host but the site itself.
  document.cookie = "csrftoken{planted}";
  document.cookie = "__Host-csrftoken{planted}";
  document.getElementById("forged").submit();
</script>
""".encode()


# --- The browser -----------------------------------------------------------------------------


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """Headless Chromium that resolves both names to 127.0.0.1 and trusts the test certificate."""
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: .ci/run installs the Debian packages")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--host-resolver-rules=MAP {SITE_HOST} 127.0.0.1, MAP {ATTACKER_HOST} 127.0.0.1",
        "--ignore-certificate-errors",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait_for_url(driver: webdriver.Chrome, url: str) -> None:
    WebDriverWait(driver, 60).until(lambda d: d.current_url == url)


def sign_in(driver: webdriver.Chrome, site: str, account: StaffAccount) -> None:
    driver.get(site + "/staff/login/")
    driver.find_element(By.NAME, "username").send_keys(account.username)
    driver.find_element(By.NAME, "password").send_keys(account.password)
    driver.find_element(By.NAME, "code").send_keys(account.current_code())
    driver.find_element(By.CSS_SELECTOR, "form[action='/staff/login/'] button").click()
    wait_for_url(driver, site + "/staff/")


@dataclass
class Exchange:
    """What Chromium's network log says about the requests to one URL."""

    statuses: list[int]
    request_headers: list[dict[str, str]]


def exchanges_with(driver: webdriver.Chrome, url: str) -> Exchange:
    """The POSTs to ``url`` in the log since it was last read: statuses and headers as sent.

    A redirect keeps the request's id, so the headers sent with the POST are the
    first Chromium reports under that id.
    """
    statuses: list[int] = []
    posts: list[str] = []
    sent_by_id: dict[str, list[dict[str, str]]] = {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        method, params = message["method"], message.get("params", {})
        if method == "Network.requestWillBeSent":
            if params.get("redirectResponse", {}).get("url") == url:
                statuses.append(params["redirectResponse"]["status"])
            request = params["request"]
            if request["url"] == url and request["method"] == "POST":
                posts.append(params["requestId"])
        if method == "Network.responseReceived" and params["response"]["url"] == url:
            statuses.append(params["response"]["status"])
        if method == "Network.requestWillBeSentExtraInfo":
            headers = {name.lower(): value for name, value in params["headers"].items()}
            sent_by_id.setdefault(params["requestId"], []).append(headers)
    return Exchange(statuses, [sent_by_id[i][0] for i in posts if i in sent_by_id])


def forge(driver: webdriver.Chrome, attacker: Attacker, path: str, action: str, fields) -> Exchange:
    """Open the attacker's page and let it post; what came back for the forged post."""
    attacker.pages[path] = forging_page(action, {**fields, "csrfmiddlewaretoken": PLANTED_TOKEN})
    driver.get_log("performance")  # start from an empty log
    driver.get(attacker.origin + path)
    WebDriverWait(driver, 60).until(lambda d: not d.current_url.startswith(attacker.origin))
    WebDriverWait(driver, 60).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    return exchanges_with(driver, action)


def all_cookies(driver: webdriver.Chrome) -> list[dict]:
    return driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]


# --- The attack ------------------------------------------------------------------------------


def test_a_sibling_subdomain_cannot_forge_staff_posts(
    open_tipline, tipline_over_https: str, attacker_site: Attacker, chromium: webdriver.Chrome
) -> None:
    site, driver = tipline_over_https, chromium
    victim = staff_account_create("root", admin=True)
    for number in range(TIPS):
        send_tip(note=f"tip number {number}")
    carol = staff_account_create("carol")  # after the tips: she can read none of them
    carol_key = RecipientKey.objects.get(user=carol.user, kind="editor")
    assert Grant.objects.filter(recipient=carol_key).count() == 0
    policy_before = RetentionPolicy.current().default_days
    assert policy_before != FORGED_RETENTION_DAYS

    sign_in(driver, site, victim)
    audit_before = AuditEntry.objects.count()

    share = forge(
        driver,
        attacker_site,
        "/share.html",
        f"{site}/staff/editors/{carol.user.pk}/grant-my-tips/",
        {},
    )
    retention = forge(
        driver,
        attacker_site,
        "/retention.html",
        f"{site}/staff/retention/",
        {"default_days": str(FORGED_RETENTION_DAYS)},
    )

    # The attack really happened as in the issue: one post each, from the
    # victim's browser, with its session, the planted token and Origin: null.
    for exchange in (share, retention):
        assert len(exchange.request_headers) == 1, exchange
        sent = exchange.request_headers[0]
        assert sent.get("origin") == "null", sent
        assert f"csrftoken={PLANTED_TOKEN}" in sent.get("cookie", ""), sent
        assert "sessionid=" in sent.get("cookie", ""), sent

    # And it was refused: 403 for both, nothing shared, nothing recorded, policy unchanged.
    assert share.statuses == [403], share
    assert retention.statuses == [403], retention
    assert Grant.objects.filter(recipient=carol_key).count() == 0
    assert AuditEntry.objects.count() == audit_before
    assert RetentionPolicy.current().default_days == policy_before

    # The browser refused the planted `__Host-` cookie; the site's own is untouched.
    site_cookies = [c for c in all_cookies(driver) if c["name"] == "__Host-csrftoken"]
    assert [c["domain"] for c in site_cookies] == [SITE_HOST], site_cookies
    assert site_cookies[0]["value"] != PLANTED_TOKEN
    assert site_cookies[0]["secure"] and site_cookies[0]["path"] == "/"

    # The admin is still signed in, and the same forms work from the site's own pages.
    driver.get(site + "/staff/editors/")
    wait_for_url(driver, site + "/staff/editors/")
    form = driver.find_element(By.CSS_SELECTOR, f"form[action$='/{carol.user.pk}/grant-my-tips/']")
    form.find_element(By.CSS_SELECTOR, "button").click()
    WebDriverWait(driver, 60).until(
        lambda d: Grant.objects.filter(recipient=carol_key).count() == TIPS
    )
