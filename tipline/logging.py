"""A logging filter that removes anything shaped like a network address.

The tip line never logs client addresses on purpose; this filter is the net
under that rule for messages written by libraries we do not control.
"""

from __future__ import annotations

import logging
import re

IPV4 = r"\b(?:\d{1,3}\.){3}\d{1,3}\b"
# Eight groups, or fewer with '::' compression; requires at least two colons.
IPV6 = r"\b(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{0,4}\b|::(?:[0-9a-fA-F]{1,4}:?){1,7}"
ADDRESS = re.compile(f"{IPV4}|{IPV6}")
REDACTED = "[address removed]"


def scrub(text: str) -> str:
    return ADDRESS.sub(REDACTED, text)


class ScrubAddressesFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = scrub(message)
        record.args = None
        # The request object (django.request) carries REMOTE_ADDR: drop it.
        if hasattr(record, "request"):
            record.request = None
        return True
