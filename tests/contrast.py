"""WCAG 2.2 contrast, computed from the stylesheet itself (static/tipline.css).

For tests: non-text contrast (1.4.11, at least 3:1 for field borders and the
focus ring) and text contrast (1.4.3). The parser is deliberately small: it
knows the flat rules and one level of ``@media`` that the stylesheet uses,
``var(--name)`` from ``:root``, and colours written as ``#rgb`` or ``#rrggbb``
(or the keywords ``white``/``black``). ``parse_colour``, ``composite`` and
``contrast_ratio`` also take the ``rgb()``/``rgba()`` strings a browser computes
(tests/integration/a11y.py).
"""

from __future__ import annotations

import re
from pathlib import Path

STYLESHEET = Path(__file__).resolve().parent.parent / "static" / "tipline.css"
NON_TEXT_MINIMUM = 3.0

_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_HEX = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")
_VAR = re.compile(r"var\(\s*(--[\w-]+)\s*\)")
_KEYWORDS = {"white": "#ffffff", "black": "#000000"}


def stylesheet() -> str:
    return STYLESHEET.read_text(encoding="utf-8")


def rules(css: str) -> list[tuple[list[str], dict[str, str]]]:
    """Every innermost rule as (its selectors, its declarations), in order."""
    found = []
    for selector_text, body in _RULE.findall(_COMMENT.sub("", css)):
        selectors = [" ".join(part.split()) for part in selector_text.split(",")]
        declarations = {}
        for declaration in body.split(";"):
            name, sep, value = declaration.partition(":")
            if sep:
                declarations[name.strip()] = value.strip()
        found.append((selectors, declarations))
    return found


def declarations_for(css: str, selector: str) -> dict[str, str]:
    """What every rule naming exactly ``selector`` (one of its comma-separated list) sets,
    later rules winning, as in the cascade for equal specificity."""
    merged: dict[str, str] = {}
    for selectors, declarations in rules(css):
        if selector in selectors:
            merged.update(declarations)
    return merged


def variables(css: str) -> dict[str, str]:
    """The custom properties of ``:root``."""
    return {
        name: value
        for name, value in declarations_for(css, ":root").items()
        if name.startswith("--")
    }


def colour_of(value: str, css: str) -> str:
    """The one colour in a declaration's value (``1px solid var(--line)``), as ``#rrggbb``."""
    names = variables(css)
    for _ in range(5):  # variables may name variables
        value = _VAR.sub(lambda match: names[match.group(1)], value)
    for word, hex_value in _KEYWORDS.items():
        value = re.sub(rf"\b{word}\b", hex_value, value)
    colours = _HEX.findall(value)
    assert len(colours) == 1, f"expected one colour in {value!r}"
    return _long_hex(colours[0])


def _long_hex(colour: str) -> str:
    digits = colour[1:]
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    return "#" + digits.lower()


Colour = tuple[float, float, float, float]  # red, green, blue in 0-255; alpha in 0-1
_FUNCTION = re.compile(r"rgba?\(\s*([^)]*)\)")


def parse_colour(colour: str) -> Colour:
    """``#rgb``, ``#rrggbb``, ``rgb(...)``, ``rgba(...)`` (as browsers compute them),
    ``white``, ``black`` or ``transparent``, as (red, green, blue, alpha)."""
    text = colour.strip().lower()
    if text == "transparent":
        return (0.0, 0.0, 0.0, 0.0)
    text = _KEYWORDS.get(text, text)
    if text.startswith("#"):
        digits = _long_hex(text)[1:]
        red, green, blue = (float(int(digits[i : i + 2], 16)) for i in (0, 2, 4))
        return (red, green, blue, 1.0)
    match = _FUNCTION.fullmatch(text)
    assert match, f"not a colour this helper reads: {colour!r}"
    parts = [part for part in re.split(r"[\s,/]+", match.group(1)) if part]
    red, green, blue = (float(part) for part in parts[:3])
    alpha = (
        float(parts[3].rstrip("%")) / (100 if parts[3].endswith("%") else 1)
        if len(parts) > 3
        else 1.0
    )
    return (red, green, blue, alpha)


def composite(top: Colour, below: tuple[float, ...]) -> tuple[float, float, float]:
    """``top`` laid over the opaque colour ``below`` (alpha blending)."""
    alpha = top[3]
    red, green, blue = (top[i] * alpha + below[i] * (1 - alpha) for i in range(3))
    return (red, green, blue)


def relative_luminance(colour: str) -> float:
    """WCAG's relative luminance of an opaque sRGB colour."""
    channels = [value / 255 for value in parse_colour(colour)[:3]]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    red, green, blue = linear
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: str, second: str) -> float:
    """WCAG's contrast ratio, from 1 (none) to 21 (black on white)."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)
