"""Fixtures for the conversation: a real cache for visits, cheap Argon2 for the source's key."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.server.conftest import start_server  # noqa: F401 - the real server, for tests here
from tipline.crypto import Argon2Params


@pytest.fixture(autouse=True)
def visit_cache(settings):
    """Visits live in the cache; tests/settings.py's dummy cache would forget them at once."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "tipline-conversation-tests",
        }
    }
    cache.clear()
    yield cache
    cache.clear()


@pytest.fixture(autouse=True)
def cheap_source_keys(monkeypatch):
    """8 MiB of Argon2id instead of 64 for the source's key (the timing test sets its own)."""
    monkeypatch.setattr(
        "tipline.conversation.keys.SOURCE_KEY_ARGON2",
        Argon2Params(memory_cost=8 * 1024, iterations=1, lanes=1),
    )


@pytest.fixture
def make_editor(db, recovery_key_present):
    from tests.triage.helpers import staff_account_create

    return lambda username="ana", *, admin=False: staff_account_create(username, admin=admin)


@pytest.fixture
def editor(make_editor):
    return make_editor("ana")
