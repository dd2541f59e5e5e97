"""Second factors: the authenticator app (TOTP) and one-time codes, none readable in the database.

- An authenticator's secret is sealed (AES-256-GCM, ``tipline.crypto.seal_secret``)
  under a key derived from ``TIPLINE_SECOND_FACTOR_KEY``, a secret that lives in
  the data dir (or the environment), never in the database. The seal is bound
  to the account's id, so a sealed secret copied onto another account's row
  does not open.
- Backup codes and the one-time sign-in codes admins hand over
  (tipline/accounts/enrolment.py) are stored as HMAC-SHA256 under another key
  derived from the same secret. A fast keyed hash is enough for them, where a
  password needs a slow one: the codes are random (about 50 and 59 bits), not
  chosen by a person; guesses through the sign-in form are limited by the
  account lock; without the key a database dump cannot test a single guess;
  and whoever holds the key as well holds the authenticator secrets, which
  open the account more simply than any code.

Losing the secret (a data dir restored without its ``second_factor_key``)
fails closed: no stored second factor works any more; an admin's reset (or
``manage.py create_editor`` for a first admin) lets each account enrol again.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from base64 import b32encode
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils.translation import gettext
from django_otp.oath import TOTP

from tipline.crypto import CryptoError, open_secret, seal_secret
from tipline.models import AuthenticatorDevice, BackupCode, BackupCodeDevice

logger = logging.getLogger(__name__)

# What every authenticator app understands (RFC 6238 defaults, django-otp's too).
TOTP_STEP = 30
TOTP_DIGITS = 6
# One step either way: a phone's clock a little off, a code typed as it changes.
TOTP_TOLERANCE = 1
# 160 bits, as RFC 4226 recommends for HMAC-SHA1.
TOTP_SECRET_BYTES = 20
BACKUP_CODE_COUNT = 10
BACKUP_CODE_LENGTH = 10  # ~50 bits from the alphabet below, typed by hand
# No look-alikes (0/o, 1/l/i): codes are read off paper.
CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"

_SECRET_CONTEXT = "totp-secret"  # noqa: S105 - a label
# Digests of different kinds of code never compare equal, even for equal text.
BACKUP_CODE_PURPOSE = "backup-code"


# --- Keys and digests -------------------------------------------------------------------


def _derived_key(purpose: str) -> bytes:
    """A 32-byte key for one purpose, from the configured secret (HMAC-SHA256 as a PRF)."""
    secret = settings.TIPLINE_SECOND_FACTOR_KEY
    if not secret:
        # Fail closed: without the key no second factor can be checked or made.
        raise ImproperlyConfigured(
            "TIPLINE_SECOND_FACTOR_KEY is not set and the data dir has no second_factor_key: "
            "start through manage.py, config.wsgi or config.asgi, which create it"
        )
    label = f"tipline/second-factor/{purpose}".encode()
    return hmac.new(secret.encode("utf-8"), label, hashlib.sha256).digest()


def totp_secret_seal(*, user_id: int, secret: bytes) -> bytes:
    return seal_secret(
        _derived_key(_SECRET_CONTEXT), secret, context=f"{_SECRET_CONTEXT}/{user_id}"
    )


def totp_secret_open(*, user_id: int, sealed: bytes) -> bytes:
    """The authenticator's secret; ``CryptoError`` if the key or the row is not the right one."""
    return open_secret(
        _derived_key(_SECRET_CONTEXT), bytes(sealed), context=f"{_SECRET_CONTEXT}/{user_id}"
    )


def code_normalise(code: str) -> str:
    """As typed, or read aloud: case, spaces and dashes do not matter."""
    return code.strip().lower().replace(" ", "").replace("-", "")


def code_digest(*, user_id: int, purpose: str, code: str) -> str:
    """The keyed hash a one-time code is stored as, bound to its account and its kind."""
    message = f"{purpose}/{user_id}/{code_normalise(code)}".encode()
    return hmac.new(_derived_key("code-digest"), message, hashlib.sha256).hexdigest()


def random_code(length: int) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


# --- The authenticator app -----------------------------------------------------------------


def totp_secret_new() -> bytes:
    return secrets.token_bytes(TOTP_SECRET_BYTES)


# What the authenticator app names the entry when the newsroom has not named its tip line.


def authenticator_issuer() -> str:
    """The name the authenticator app shows for the entry: the site's name, read at each call.

    Read here rather than from a setting computed once at start-up, so a
    changed ``TIPLINE_SITE_NAME`` (or a test's override) reaches the next
    enrolment; without one, the app names the entry as the pages' header does.
    A colon would split the URI's label, so none is kept.
    """
    # Unnamed, it is the name every page's header shows, in the page's language.
    name = settings.TIPLINE_SITE_NAME or gettext("Secure tip line")
    return name.replace(":", "").strip()


def totp_uri(*, user: User, secret: bytes) -> str:
    """The ``otpauth://totp/...`` enrolment URI (what the QR code holds), as django-otp's."""
    label = user.get_username()
    params = urlencode(
        {
            "secret": b32encode(secret),
            "algorithm": "SHA1",
            "digits": TOTP_DIGITS,
            "period": TOTP_STEP,
        }
    )
    issuer = authenticator_issuer()
    if issuer:
        label = f"{issuer}:{label}"
        params += f"&issuer={quote(issuer)}"
    return f"otpauth://totp/{quote(label)}?{params}"


def totp_accepts(*, secret: bytes, code: str, last_t: int = -1, drift: int = 0) -> TOTP | None:
    """The TOTP state that accepted ``code`` (its ``t()`` and ``drift``), or None.

    A code of a time step at or before ``last_t`` is refused: each code works once.
    """
    code = code_normalise(code)
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    totp = TOTP(secret, TOTP_STEP, 0, TOTP_DIGITS, drift)
    totp.time = time.time()  # one clock reading for the check and the step kept
    return totp if totp.verify(int(code), TOTP_TOLERANCE, last_t + 1) else None


def authenticator_replace(*, user: User, secret: bytes, last_t: int = -1) -> AuthenticatorDevice:
    """The account's one authenticator, sealed; any older one stops working."""
    AuthenticatorDevice.objects.filter(user=user).delete()
    return AuthenticatorDevice.objects.create(
        user=user,
        name="authenticator",
        confirmed=True,
        secret_sealed=totp_secret_seal(user_id=user.pk, secret=secret),
        last_t=last_t,
    )


def _authenticator_match(user: User, code: str) -> AuthenticatorDevice | None:
    with transaction.atomic():
        # Locked, so two requests cannot both spend the same code.
        device = (
            AuthenticatorDevice.objects.select_for_update()
            .filter(user=user, confirmed=True)
            .first()
        )
        if device is None:
            return None
        try:
            secret = totp_secret_open(user_id=user.pk, sealed=device.secret_sealed)
        except CryptoError:
            logger.error(
                "an authenticator secret does not open with the configured second-factor key; "
                "was TIPLINE_SECOND_FACTOR_KEY or the data dir's second_factor_key replaced?"
            )
            return None
        accepted = totp_accepts(secret=secret, code=code, last_t=device.last_t, drift=device.drift)
        if accepted is None:
            return None
        device.last_t, device.drift = accepted.t(), accepted.drift
        device.save(update_fields=["last_t", "drift"])
        return device


# --- Backup codes ---------------------------------------------------------------------------


def backup_codes_replace(*, user: User) -> list[str]:
    """New one-time backup codes for ``user``, returned once; only their hashes are kept."""
    BackupCodeDevice.objects.filter(user=user).delete()
    device = BackupCodeDevice.objects.create(user=user, name="backup codes", confirmed=True)
    codes: set[str] = set()
    while len(codes) < BACKUP_CODE_COUNT:
        codes.add(random_code(BACKUP_CODE_LENGTH))
    BackupCode.objects.bulk_create(
        BackupCode(
            device=device, digest=code_digest(user_id=user.pk, purpose=BACKUP_CODE_PURPOSE, code=c)
        )
        for c in codes
    )
    return sorted(codes)


def _backup_code_spend(user: User, code: str) -> BackupCodeDevice | None:
    device = BackupCodeDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        return None
    digest = code_digest(user_id=user.pk, purpose=BACKUP_CODE_PURPOSE, code=code)
    # Deleting is the check: of two requests with the same code, one deletes it.
    spent, _ = BackupCode.objects.filter(device=device, digest=digest).delete()
    return device if spent else None


# --- Both -------------------------------------------------------------------------------------


def second_factor_match(*, user: User, code: str) -> AuthenticatorDevice | BackupCodeDevice | None:
    """The device that accepts ``code`` (spending it), or None."""
    normalised = code_normalise(code)
    if len(normalised) == TOTP_DIGITS and normalised.isdigit():
        return _authenticator_match(user, normalised)
    if len(normalised) == BACKUP_CODE_LENGTH:
        return _backup_code_spend(user, normalised)
    return None


def second_factors_remove(*, user: User) -> None:
    """Every second factor of ``user`` stops working (a session verified by one ends too)."""
    AuthenticatorDevice.objects.filter(user=user).delete()
    BackupCodeDevice.objects.filter(user=user).delete()
