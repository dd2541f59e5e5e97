"""Sample values for the placeholders of the site's routes, for the tests that walk every route.

One list: a new route's placeholder is added here once, and every walking
test (access control, CSRF, headers, CSP, first sign-in) reaches the route.
"""

from __future__ import annotations

from collections.abc import Mapping

# Values that name nothing in particular; a test passes real ones (a tip's
# reference, an editor's key) in ``values``, which take precedence.
GENERIC_SAMPLES = {
    "<str:reference>": "T-NONE",
    "<int:number>": "1",
    "<int:page>": "1",
    "<int:recipient_id>": "1",
    "<int:user_id>": "1",
    "<int:message_id>": "1",
    # The set-up link's token (tipline/setup/): a wrong one, so the page answers 404.
    "<str:token>": "not-the-setup-token",
}


def route_filled(route: str, values: Mapping[str, str] | None = None) -> str:
    """``route`` with every placeholder replaced (``values`` first, then the generic samples)."""
    for placeholder, value in {**GENERIC_SAMPLES, **(values or {})}.items():
        route = route.replace(placeholder, value)
    assert "<" not in route, f"add a sample value for {route} in tests/route_samples.py"
    return route
