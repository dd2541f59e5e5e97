"""The staff fixtures of tests/triage, shared here rather than written twice."""

import pytest

from tests.triage.conftest import (  # noqa: F401 - fixtures are found by name
    admin,
    admin_client,
    editor,
    editor_client,
    make_editor,
    tip_for_editor,
)


@pytest.fixture
def readable_tip(open_tipline, admin, editor, tip_for_editor):  # noqa: F811
    """A tip (a picture and an uncleaned file) that both the admin and the editor can read."""
    return tip_for_editor
