"""The tip page: content decrypted for an editor with a grant, links inert, files with reports."""

from __future__ import annotations

import pytest

from tests.triage.helpers import TIP_LINK, TIP_NOTE

pytestmark = pytest.mark.django_db


def test_tip_page_shows_the_note_the_link_as_text_and_each_file(tip_for_editor, editor_client):
    response = editor_client.get(f"/staff/tips/{tip_for_editor.reference}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert TIP_NOTE in html
    assert f'<code class="copyable">{TIP_LINK}</code>' in html
    assert f'href="{TIP_LINK}"' not in html
    assert "harbour.jpg" in html and "ledger.bin" in html
    assert "Not sanitized" in html or "No sanitizado" in html
