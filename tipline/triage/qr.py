"""QR codes of authenticator enrolment URIs, as inline SVG the CSP allows."""

from __future__ import annotations

import segno
from django.core.exceptions import ImproperlyConfigured
from django.utils.safestring import SafeString, mark_safe

QR_SVG_OPTIONS: dict[str, int | str | bool | None] = {
    "scale": 4,
    "border": 4,
    "dark": "#000",
    "light": "#fff",
    "svgclass": None,
    "lineclass": None,
    "omitsize": True,
}


def qr_svg(uri: str) -> SafeString:
    """The enrolment URI as an inline SVG QR code, built here from the URI alone."""
    # A viewBox and no fixed size: the stylesheet (.qr svg) sets the size.
    svg = segno.make(uri, error="m").svg_inline(**QR_SVG_OPTIONS)
    # The CSP forbids inline style, and the markup is trusted only because
    # segno writes it from the URI's bits: refuse anything that breaks either.
    if "style" in svg or "<script" in svg or not svg.startswith("<svg "):
        raise ImproperlyConfigured("segno's inline SVG changed shape; check it before use")
    return mark_safe(svg)  # noqa: S308 - segno's own markup, checked above
