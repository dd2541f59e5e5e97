"""The staff side's fixtures (tests/triage/conftest.py): accounts made and signed in the real way."""

from tests.triage.conftest import (  # noqa: F401 - fixtures, found by name
    admin,
    admin_client,
    editor,
    editor_client,
    make_editor,
    tip_for_editor,
)
