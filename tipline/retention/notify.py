"""The optional daily reminder to editors: one fixed message, the same every day.

Whoever runs the editors' mailboxes (a mail provider, a server seized later)
must learn nothing about the tip line's activity. So the message carries no
count, no reference, no date and nothing that differs between a day with tips
and a day without: it is sent every day, whatever arrived (as SecureDrop's
daily journalist notification does). It is off unless ``TIPLINE_NOTIFY_EMAIL``
is set, and goes through Django's email backend (``EMAIL_*`` settings). Each
recipient gets a message of their own, so no one sees the others' addresses.
The daily task (tipline/retention/tasks.py) calls ``daily_notification_send``.
"""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.utils import translation
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)


def notification_recipients() -> list[str]:
    """Addresses of the active staff accounts that gave one, each once."""
    addresses = (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    return sorted(set(addresses))


def notification_text() -> tuple[str, str]:
    """The subject and body: fixed, in the site's default language, never about any tip."""
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Daily reminder: check the tip line")
        body = _(
            "This is the tip line's daily reminder. It is sent every day, whether or not "
            "anything arrived, and says nothing about what did.\n\n"
            "Sign in to the staff pages to see the inbox.\n"
        )
    return subject, body


def daily_notification_send() -> int:
    """Send the fixed reminder to every active staff address; returns how many were sent."""
    if not settings.TIPLINE_NOTIFY_EMAIL:
        return 0
    addresses = notification_recipients()
    if not addresses:
        return 0
    subject, body = notification_text()
    connection = get_connection()
    try:
        connection.open()
    except (smtplib.SMTPException, OSError):
        logger.warning("daily reminder: the mail server cannot be reached")
        return 0
    failed = 0
    try:
        # One connection, one message per address: nobody sees the others, and
        # a refused address does not stop the rest.
        for address in addresses:
            message = EmailMessage(subject, body, to=[address], connection=connection)
            try:
                message.send()
            except (smtplib.SMTPException, OSError):
                failed += 1
    finally:
        connection.close()
    if failed:
        # The count only: addresses stay out of the logs.
        logger.warning("daily reminder: %d of %d messages failed", failed, len(addresses))
    return len(addresses) - failed
