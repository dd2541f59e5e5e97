"""Shared fixtures for the crypto tests (no Django needed)."""

from __future__ import annotations

import pytest

from tipline.crypto import PrivateKey, new_tip_key


def pytest_configure(config: pytest.Config) -> None:
    # The lead registers this marker project-wide too; registering it twice
    # is harmless and keeps `pytest tests/crypto --strict-markers` working.
    config.addinivalue_line("markers", "slow: long-running test (multi-GiB stream)")


@pytest.fixture(autouse=True)
def blob_storage() -> None:
    """Shadow the suite-wide autouse fixture of the same name.

    tests/conftest.py points Django's storage at a temp folder, which needs
    pytest-django's ``settings``; the crypto library is pure and its tests
    must run with ``-p no:django``.
    """
    return None


@pytest.fixture
def tip_key() -> bytes:
    return new_tip_key()


@pytest.fixture(scope="session")
def keypair() -> PrivateKey:
    return PrivateKey.generate()


@pytest.fixture(scope="session")
def other_keypair() -> PrivateKey:
    return PrivateKey.generate()
