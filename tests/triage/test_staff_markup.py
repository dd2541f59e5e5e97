"""The staff pages' markup (#16): unique ids, labels that name their own field, no colons,
words instead of "---------", wide tables in a labelled scroll region, short menu words."""

from __future__ import annotations

import re

import pytest

from tests.triage.helpers import granted_tip, signed_in_client
from tests.triage.html_checks import label_problems, page_structure
from tipline.models import Tag, Tip
from tipline.triage.forms import InboxFilterForm

pytestmark = pytest.mark.django_db


def make_tip() -> Tip:
    return granted_tip()


@pytest.fixture
def tagged_tip(admin) -> Tip:
    tip = make_tip()
    tip.tags.add(Tag.objects.create(name="harbour"))
    return tip


def staff_pages(tip: Tip) -> list[str]:
    return [
        "/staff/",
        "/staff/?flood=1",
        f"/staff/tips/{tip.reference}/",
        "/staff/editors/",
        "/staff/editors/new/",
        "/staff/audit/",
        "/staff/retention/",
        "/staff/recovery-key/",
        "/staff/password/",
    ]


# --- Ids and labels ------------------------------------------------------------------------


def test_the_inbox_ids_are_unique_and_the_bulk_label_names_its_own_select(
    tagged_tip, admin_client
) -> None:
    page = page_structure(admin_client.get("/staff/").content.decode())
    assert label_problems(page) == []
    (bulk_select,) = page.find("select", name="status", id="bulk_status")
    (filter_select,) = page.find("select", name="status", id="id_status")
    assert bulk_select.form != filter_select.form
    (bulk_label,) = page.find("label", **{"for": "bulk_status"})
    assert bulk_label.form == bulk_select.form


@pytest.mark.parametrize("lang", ["en", "es"])
def test_no_staff_page_repeats_an_id_or_points_a_label_elsewhere(tagged_tip, admin, lang) -> None:
    client = signed_in_client(admin)
    for url in staff_pages(tagged_tip):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=lang)
        assert response.status_code == 200, url
        assert label_problems(page_structure(response.content.decode())) == [], url


def test_the_bulk_change_still_works_with_its_own_ids(tagged_tip, admin_client) -> None:
    response = admin_client.post(
        "/staff/bulk-status/", {"tips": [tagged_tip.reference], "status": "verified"}
    )
    assert response.status_code == 302
    tagged_tip.refresh_from_db()
    assert tagged_tip.status == "verified"


# --- Words, not punctuation -----------------------------------------------------------------


def test_the_tag_filter_offers_all_tags_in_words(tagged_tip, admin_client) -> None:
    for lang, words in (("en", "All tags"), ("es", "Todas las etiquetas")):
        body = admin_client.get("/staff/", HTTP_ACCEPT_LANGUAGE=lang).content.decode()
        assert f'<option value="" selected>{words}</option>' in body
        assert "---------" not in body


def test_no_select_of_the_inbox_filters_has_a_dashes_choice(admin) -> None:
    form = InboxFilterForm(staff_choices=[], tags=Tag.objects.all())
    for name, field in form.fields.items():
        for _value, label in getattr(field, "choices", []):
            assert "---" not in str(label), name


def label_texts(html: str) -> list[str]:
    return [
        " ".join(re.sub(r"<[^>]+>", " ", inner).split())
        for inner in re.findall(r"<label[^>]*>(.*?)</label>", html, re.S)
    ]


def test_staff_labels_have_no_colon(tagged_tip, admin) -> None:
    client = signed_in_client(admin)
    seen = 0
    for url in staff_pages(tagged_tip):
        for lang in ("en", "es"):
            texts = label_texts(client.get(url, HTTP_ACCEPT_LANGUAGE=lang).content.decode())
            seen += len(texts)
            assert [text for text in texts if text.endswith(":")] == [], url
    assert seen > 20  # the pages' forms were there to check


def test_the_sign_in_labels_have_no_colon(client) -> None:
    for lang in ("en", "es"):
        texts = label_texts(client.get("/staff/login/", HTTP_ACCEPT_LANGUAGE=lang).content.decode())
        assert len(texts) == 3
        assert [text for text in texts if text.endswith(":")] == []


def test_every_staff_form_is_a_staff_form_without_a_label_suffix() -> None:
    from django import forms

    import tipline.triage.forms as forms_module
    import tipline.triage.forms_editors as editors
    import tipline.triage.forms_enrol as enrol
    import tipline.triage.forms_retention as retention
    import tipline.triage.views.conversation as conversation
    from tipline.triage.forms import BulkStatusForm, StaffForm

    found = [
        value
        for module in (forms_module, editors, enrol, retention, conversation)
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, forms.BaseForm)
    ]
    assert BulkStatusForm in found
    for form_class in found:
        assert issubclass(form_class, StaffForm), form_class.__name__


# --- Wide tables on a phone ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, names",
    [
        ("/staff/audit/", {"en": "Audit log entries", "es": "Entradas del registro de auditoría"}),
        ("/staff/editors/", {"en": "Staff accounts", "es": "Cuentas del personal"}),
        (
            "/staff/recovery-key/",
            {"en": "The current recovery key", "es": "La clave de recuperación actual"},
        ),
    ],
)
def test_wide_tables_scroll_in_a_focusable_labelled_region(recovery_key, admin, url, names) -> None:
    client = signed_in_client(admin)
    for lang, name in names.items():
        page = page_structure(client.get(url, HTTP_ACCEPT_LANGUAGE=lang).content.decode())
        tables = page.find("table")
        assert tables, url
        regions = page.find("div", **{"class": "table-scroll"})
        assert len(regions) == len(tables), url
        for region in regions:
            assert region.attrs == {
                "class": "table-scroll",
                "tabindex": "0",
                "role": "region",
                "aria-label": name,
            }
        # Each table sits inside its region: the region opens right before it.
        for region, table in zip(regions, tables, strict=True):
            assert page.elements.index(table) == page.elements.index(region) + 1


def test_the_retention_preview_table_scrolls_in_a_labelled_region(admin, admin_client) -> None:
    from datetime import timedelta

    from django.utils import timezone

    tip = make_tip()
    Tip.objects.filter(pk=tip.pk).update(
        status="discarded", status_changed_on=timezone.localdate() - timedelta(days=40)
    )
    page = page_structure(admin_client.get("/staff/retention/").content.decode())
    (region,) = page.find("div", **{"class": "table-scroll"})
    assert region.attrs["aria-label"] == "Tips due for deletion"
    assert region.attrs["tabindex"] == "0" and region.attrs["role"] == "region"


def test_every_editor_row_has_an_anchor_and_labels_for_the_stacked_layout(
    admin, make_editor, admin_client
) -> None:
    other = make_editor("bea")
    page = page_structure(admin_client.get("/staff/editors/").content.decode())
    (row,) = page.find("tr", id=f"editor-{other.user.pk}")
    labels = {e.attrs["data-label"] for e in page.find("td") if "data-label" in e.attrs}
    assert {"Admin", "Active", "Key fingerprint", "Created"} <= labels


def test_the_staff_menu_uses_short_words_in_spanish(admin) -> None:
    body = signed_in_client(admin).get("/staff/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    nav = body[body.index('<nav class="staff-nav"') : body.index("</nav>", body.index("staff-nav"))]
    for word in ("Bandeja", "Auditoría", "Recuperación", "Conservación", "Salir (root)"):
        assert f">{word}<" in nav
    assert "Registro de auditoría" not in nav and "Cerrar sesión" not in nav
