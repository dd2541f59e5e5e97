"""A logging filter that removes anything shaped like a network address.

The tip line never logs client addresses on purpose; this filter is the net
under that rule for messages written by libraries we do not control.
"""

from __future__ import annotations

import logging
import re

IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
# Any run of hex groups and colons; it is an IPv6 address when it has the
# '::' compression or at least five colons (a clock time like 12:30:45 has two).
HEX_COLON_RUN = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
REDACTED = "[address removed]"


def _redact_ipv6(match: re.Match) -> str:
    text = match.group(0)
    return REDACTED if "::" in text or text.count(":") >= 5 else text


def scrub(text: str) -> str:
    return HEX_COLON_RUN.sub(_redact_ipv6, IPV4.sub(REDACTED, text))


class ScrubAddressesFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = scrub(message)
        record.args = None
        # The request object (django.request) carries REMOTE_ADDR: drop it.
        if hasattr(record, "request"):
            record.request = None
        return True


def scrubbed_logging_config(*, root_level: str | None, loggers: dict) -> dict:
    """A ``logging.config.dictConfig`` whose console handler scrubs addresses.

    Shared by Django's settings and the web server's (config/server.py), so every
    process of the tip line logs through the same filter.
    """
    config: dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"scrub_addresses": {"()": "tipline.logging.ScrubAddressesFilter"}},
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "filters": ["scrub_addresses"],
                "formatter": "plain",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": loggers,
    }
    if root_level is not None:
        config["root"] = {"handlers": ["console"], "level": root_level}
    return config
