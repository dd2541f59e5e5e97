"""The source's keys: the lookup of a passphrase, the key pair it derives, the conversation key.

docs/crypto.md, "Sources come back", has the layouts and the reasons.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from django.conf import settings

from tipline.crypto import Argon2Params, PrivateKey, PublicKey, unwrap_key, wrap_key
from tipline.crypto.source_key import SOURCE_KEY_SALT_LEN, derive_source_private_key
from tipline.models import Conversation, Tip

CONVERSATION_KEY_PURPOSE = "conversation-key"
# The editors' own cost (RFC 9106's second recommended option, ~0.14 s on the
# 2-core reference server): the passphrase's 90 bits, not Argon2, stop guessing;
# Argon2 makes a seized database's salts and public keys useless even so.
SOURCE_KEY_ARGON2 = Argon2Params(memory_cost=64 * 1024, iterations=3, lanes=4)
_LOOKUP_LABEL = b"tipline/conversation-lookup/v1"
# Derived where nothing matches, so a wrong passphrase costs what a right one does.
_PLACEHOLDER = "placeholder"


def _lookup_key() -> bytes:
    # A key of its own, derived from the second-factor key: like it, never in the
    # database, the same on every web host, in the data dir's backup.
    secret = settings.TIPLINE_SECOND_FACTOR_KEY.encode("utf-8")
    return hmac.new(secret, _LOOKUP_LABEL, hashlib.sha256).digest()


def passphrase_lookup(normalised: str) -> str:
    """The keyed hash the tip is found by (hex): never the passphrase itself."""
    return hmac.new(_lookup_key(), normalised.encode("utf-8"), hashlib.sha256).hexdigest()


def source_key_new_salt() -> bytes:
    return os.urandom(SOURCE_KEY_SALT_LEN)


def source_private_key_derive(normalised: str, *, salt: bytes | None) -> PrivateKey:
    """The source's private key; with no salt (no tip matched), the same work for nothing."""
    if salt is None or not normalised:
        return derive_source_private_key(
            normalised or _PLACEHOLDER, salt=source_key_new_salt(), params=SOURCE_KEY_ARGON2
        )
    return derive_source_private_key(normalised, salt=bytes(salt), params=SOURCE_KEY_ARGON2)


def conversation_key_wrap(*, tip: Tip, conversation_key: bytes, public_key: PublicKey) -> bytes:
    return wrap_key(
        conversation_key, public_key, purpose=CONVERSATION_KEY_PURPOSE, object_id=str(tip.key_id)
    )


def conversation_key_unwrap(
    *, conversation: Conversation, tip_key_id: object, private_key: PrivateKey
) -> bytes:
    return unwrap_key(
        bytes(conversation.key_for_source),
        private_key,
        purpose=CONVERSATION_KEY_PURPOSE,
        object_id=str(tip_key_id),
    )


@dataclass(frozen=True)
class SourceKeys:
    """What a source's visit acts with: its conversation, its private key, the conversation key."""

    conversation: Conversation
    private_key: PrivateKey
    conversation_key: bytes
