"""The receipt passphrase: words drawn from a list in the page's language, and its normal form.

Seven words from a list of at least 7,776 carry at least 90 bits: no one
guesses that, online or offline, so there is no lock-out to turn against
sources (docs/crypto.md). Sources mistype: case, accents, spaces, hyphens,
line breaks and any other character that is not a letter are dropped before
anything is derived, so "Ábaco  perro-gato" and "abacoperrogato" are the same
passphrase. The list does not matter either: the normal form is letters only.
"""

from __future__ import annotations

import functools
import secrets
import unicodedata
from pathlib import Path

WORDS = 7
WORDLIST_DIR = Path(__file__).resolve().parent / "wordlists"
LANGUAGES = ("en", "es")
DEFAULT_LANGUAGE = "es"
# Far more than seven words of any list: anything longer is not a receipt,
# and it is cut before the expensive work, not refused (refusing would be
# quicker than a real check, and so tell the two apart).
MAX_INPUT_CHARS = 512


@functools.cache
def wordlist(language: str) -> tuple[str, ...]:
    """The words of ``language``'s list (Spanish for any language without its own)."""
    if language not in LANGUAGES:
        language = DEFAULT_LANGUAGE
    text = (WORDLIST_DIR / f"{language}.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def passphrase_generate(*, language: str) -> str:
    """A new receipt passphrase: ``WORDS`` words of the page's language, space-separated."""
    words = wordlist(language)
    return " ".join(secrets.choice(words) for _ in range(WORDS))


def passphrase_normalise(typed: str) -> str:
    """The letters of ``typed``, lowercase, without accents: what keys and lookups use."""
    text = typed[:MAX_INPUT_CHARS] if isinstance(typed, str) else ""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if "a" <= char <= "z")
