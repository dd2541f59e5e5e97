"""The accessibility gate's tools: axe-core in the page, non-text contrast, screenshots.

axe-core 4 is pinned in ``tests/integration/axe/`` (``npm ci`` there; ``make
integration`` runs it). WebDriver injects it and runs it through DevTools, so
neither the site's Content-Security-Policy nor JavaScript turned off in the
browser's settings stops it, while the page's own scripts stay off.

axe does not check WCAG 1.4.11 (non-text contrast) for borders or focus rings:
``non_text_contrast_findings`` reads the colours the browser computed and
measures them with ``tests/contrast.py``.

Every page checked is also photographed, whole, into one folder per test run
(``var/screenshots/<time>/``), with an ``index.html`` showing them all.
"""

from __future__ import annotations

import base64
import functools
import html
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.urls import Resolver404, resolve
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.support.ui import WebDriverWait

from tests.contrast import NON_TEXT_MINIMUM, composite, contrast_ratio, parse_colour

ROOT = Path(__file__).resolve().parents[2]
AXE_SCRIPT = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "screenshots"

# WCAG 2.2 AA, and everything below it that axe has rules for.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

# A phone and a laptop (docs and issue #16 name these two).
VIEWPORTS = ((390, 844), (1366, 900))

# Tall pages are photographed whole up to this height (CSS pixels).
SCREENSHOT_MAX_HEIGHT = 12000


@functools.cache
def axe_source() -> str:
    if not AXE_SCRIPT.exists():
        pytest.fail(
            f"{AXE_SCRIPT} is missing: run `npm ci` in tests/integration/axe (make integration does)"
        )
    return AXE_SCRIPT.read_text(encoding="utf-8")


_RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})
  .then(result => done(result.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help,
      targets: v.nodes.map(n => n.target.join(' ')),
      summary: (v.nodes[0] && v.nodes[0].failureSummary) || ''}))))
  .catch(error => done({error: String(error)}));
"""


def axe_violations(driver: webdriver.Chrome) -> list[dict]:
    """axe-core's violations on the page shown (``incomplete`` results are not failures)."""
    if not driver.execute_script("return typeof window.axe !== 'undefined'"):
        driver.execute_script(axe_source())
    result = driver.execute_async_script(_RUN_AXE, WCAG_TAGS)
    if isinstance(result, dict):
        raise AssertionError(f"axe-core failed on {driver.current_url}: {result['error']}")
    return result


# For each field and button shown: its boundary colour (the border, or, with no
# border, its own background), the colour behind it (the ancestors' backgrounds
# laid over each other, white canvas last), and its outline while focused.
_NON_TEXT_COLOURS = """
const behind = element => {
  const layers = [];
  for (let node = element.parentElement; node; node = node.parentElement) {
    layers.push(getComputedStyle(node).backgroundColor);
  }
  return layers.reverse();
};
const describe = element => {
  let text = element.tagName.toLowerCase();
  if (element.id) text += '#' + element.id;
  if (element.name) text += '[name=' + element.name + ']';
  if (element.type && element.tagName !== 'TEXTAREA') text += '[type=' + element.type + ']';
  if (element.className) text += '.' + String(element.className).trim().split(/\\s+/).join('.');
  const words = (element.innerText || element.value || '').trim().split('\\n')[0].slice(0, 40);
  return words ? text + ' "' + words + '"' : text;
};
// Shown and reachable now: not in a closed <details>, not hidden, not visually hidden.
const shown = element => {
  const box = element.getBoundingClientRect();
  return box.width > 2 && box.height > 2 &&
    element.checkVisibility({contentVisibilityAuto: true, visibilityProperty: true});
};
const found = [];
for (const element of document.querySelectorAll('input, textarea, select, button')) {
  if (element.type === 'hidden' || element.disabled || !shown(element)) continue;
  const style = getComputedStyle(element);
  const sides = ['Top', 'Right', 'Bottom', 'Left'].filter(side =>
      parseFloat(style['border' + side + 'Width']) > 0 && style['border' + side + 'Style'] !== 'none');
  const boundary = sides.length ? style['border' + sides[0] + 'Color'] : style.backgroundColor;
  element.focus({preventScroll: true});
  if (document.activeElement !== element) continue;  // not focusable: no ring to show
  const focused = getComputedStyle(element);
  found.push({
    element: describe(element),
    boundary: boundary,
    boundaryKind: sides.length ? 'border' : 'background',
    behind: behind(element),
    focusVisible: element.matches(':focus-visible'),
    outlineStyle: focused.outlineStyle,
    outlineWidth: parseFloat(focused.outlineWidth) || 0,
    outlineColour: focused.outlineColor,
  });
  element.blur();
}
return found;
"""


WHITE = "rgb(255, 255, 255)"


def opaque_over(colour: str, behind: str) -> str:
    """``colour`` as the screen shows it over the opaque ``behind`` (its transparency mixed in)."""
    mixed = composite(parse_colour(colour), parse_colour(behind)[:3])
    return "rgb({:.0f}, {:.0f}, {:.0f})".format(*mixed)


def _opaque_behind(layers: list[str]) -> str:
    """The ancestors' backgrounds laid over the white canvas, as one opaque ``rgb()``."""
    colour = WHITE
    for layer in layers:
        colour = opaque_over(layer, colour)
    return colour


def non_text_contrast_findings(driver: webdriver.Chrome) -> list[str]:
    """Fields and buttons whose boundary or focus outline is under 3:1 against what is behind."""
    findings = []
    for item in driver.execute_script(_NON_TEXT_COLOURS):
        behind = _opaque_behind(item["behind"])
        if parse_colour(item["boundary"])[3] > 0:
            ratio = contrast_ratio(opaque_over(item["boundary"], behind), behind)
            if ratio < NON_TEXT_MINIMUM:
                findings.append(
                    f"{item['element']}: {item['boundaryKind']} {item['boundary']} on {behind}"
                    f" is {ratio:.2f}:1 (WCAG 1.4.11 asks 3:1)"
                )
        findings.extend(_focus_findings(item, behind))
    driver.execute_script("document.activeElement && document.activeElement.blur()")
    return findings


def _focus_findings(item: dict, behind: str) -> list[str]:
    if not item["focusVisible"] or item["outlineStyle"] == "none" or item["outlineWidth"] == 0:
        return [f"{item['element']}: no focus outline"]
    ratio = contrast_ratio(opaque_over(item["outlineColour"], behind), behind)
    if ratio < NON_TEXT_MINIMUM:
        return [
            f"{item['element']}: focus outline {item['outlineColour']} on {behind}"
            f" is {ratio:.2f}:1 (WCAG 1.4.11 asks 3:1)"
        ]
    return []


# What axe leaves as "needs review" or does not check at all, though issue #16 found it:
# references to ids that do not exist (a screen reader then reads no help and no
# error), the same id twice (a label focuses the wrong field), and a page wider
# than a phone's screen (WCAG 1.4.10, reflow).
_STRUCTURE = """
const findings = [];
const seen = new Map();
for (const element of document.querySelectorAll('[id]')) {
  seen.set(element.id, (seen.get(element.id) || 0) + 1);
}
for (const [id, count] of seen) {
  if (count > 1) findings.push('id "' + id + '" is used ' + count + ' times');
}
const referring = ['aria-describedby', 'aria-labelledby', 'aria-controls', 'aria-errormessage'];
for (const name of referring) {
  for (const element of document.querySelectorAll('[' + name + ']')) {
    for (const id of element.getAttribute(name).split(/\\s+/).filter(Boolean)) {
      if (!document.getElementById(id)) {
        findings.push(element.tagName.toLowerCase() + (element.name ? '[name=' + element.name + ']' : '')
          + ' has ' + name + '="' + id + '", which is no element');
      }
    }
  }
}
for (const label of document.querySelectorAll('label[for]')) {
  if (!document.getElementById(label.htmlFor)) {
    findings.push('label for="' + label.htmlFor + '" names no element');
  }
}
const screenWidth = arguments[0];
const wide = document.documentElement.scrollWidth;
if (wide > screenWidth) {
  const culprits = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > screenWidth + 1)
    .filter(e => !e.parentElement || e.parentElement.getBoundingClientRect().right <= screenWidth + 1)
    .slice(0, 3)
    .map(e => e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).trim().split(/\\s+/).join('.') : ''));
  findings.push('the page is ' + wide + ' px wide in a ' + screenWidth
    + ' px window (WCAG 1.4.10), because of ' + culprits.join(', '));
}
return findings;
"""


def structure_findings(driver: webdriver.Chrome, width: int) -> list[str]:
    """Broken id references, duplicate ids, and a page wider than the ``width`` of the screen.

    The width is the one emulated, not ``innerWidth``: a phone's browser zooms out
    to a page too wide for it, and ``innerWidth`` grows with it."""
    return driver.execute_script(_STRUCTURE, width)


# --- Screenshots -----------------------------------------------------------------------------------


@functools.cache
def screenshot_folder() -> Path:
    """This run's folder, made on first use (pytest_terminal_summary prints it)."""
    folder = SCREENSHOTS / time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot_folder_made() -> Path | None:
    return screenshot_folder() if screenshot_folder.cache_info().currsize else None


def full_page_screenshot(driver: webdriver.Chrome, path: Path) -> None:
    """The whole page, not only the viewport: a reviewer sees what is below the fold too."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {
        "x": 0,
        "y": 0,
        "width": size["width"],
        "height": min(size["height"], SCREENSHOT_MAX_HEIGHT),
        "scale": 1,
    }
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def screenshots_index_write(folder: Path) -> Path:
    """An index.html showing every picture of the folder, by name."""
    figures = "\n".join(
        f"<figure><figcaption>{html.escape(png.name)}</figcaption>"
        f'<a href="{html.escape(png.name)}"><img src="{html.escape(png.name)}" loading="lazy" '
        f'alt="{html.escape(png.stem)}"></a></figure>'
        for png in sorted(folder.glob("*.png"))
    )
    index = folder / "index.html"
    index.write_text(
        "<!doctype html><html lang='en'><meta charset='utf-8'><title>Screenshots</title>"
        "<style>body{font-family:sans-serif;display:flex;flex-wrap:wrap;gap:1rem}"
        "figure{margin:0;width:22rem}img{max-width:100%;border:1px solid #888}</style>"
        f"<body>{figures}</body></html>",
        encoding="utf-8",
    )
    return index


# --- JavaScript off, as the source's browser has it -------------------------------------------------


def scripts_off(driver: webdriver.Chrome) -> None:
    """The pages' own scripts stop running, from the next page on (DevTools' emulation lasts
    across navigations). WebDriver's scripts still run: they come through DevTools."""
    driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    driver.tipline_scripts_off = True  # type: ignore[attr-defined]


@contextmanager
def scripts_on(driver: webdriver.Chrome) -> Iterator[None]:
    """Scripts on for a moment, for axe-core's timers and promises.

    The page's own scripts ran (or not) when it was parsed: turning scripts on
    afterwards runs none of them, it only lets the scripts WebDriver injects finish."""
    off = getattr(driver, "tipline_scripts_off", False)
    if off:
        driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
    try:
        yield
    finally:
        if off:
            driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})


def page_scripts_ran(driver: webdriver.Chrome) -> bool:
    """Whether a page's own inline script runs in this browser now (a data: URL has no CSP)."""
    driver.get("data:text/html,<title>no</title><script>document.title = 'ran'</script>")
    return driver.title == "ran"


# --- The gate ---------------------------------------------------------------------------------------

_STYLESHEETS_APPLIED = """
return [...document.styleSheets].every(sheet => {
  try { return sheet.cssRules.length > 0; } catch (error) { return false; }
});
"""


@dataclass
class Gate:
    """Checks every page it is shown, at both sizes, and keeps what it finds for the end."""

    driver: webdriver.Chrome
    scripts: str  # "js" or "nojs", for the screenshots' names
    findings: list[str] = field(default_factory=list)
    routes: set[str] = field(default_factory=set)  # the routes of the pages checked

    def check(self, side: str, page: str, language: str, *, screenshot: bool = True) -> None:
        label = f"{side}-{page}-{language}-{self.scripts}"
        self.routes.add(route_name(self.driver.current_url))
        if not self._stylesheets_applied():
            self.findings.append(
                f"{label} ({self.driver.current_url}): the stylesheet did not load"
            )
        for width, height in VIEWPORTS:
            viewport_set(self.driver, width, height)
            where = f"{label}-{width} ({urlsplit(self.driver.current_url).path})"
            with scripts_on(self.driver):
                violations = axe_violations(self.driver)
                others = non_text_contrast_findings(self.driver) + structure_findings(
                    self.driver, width
                )
            self.findings.extend(f"{where}: {_violation_text(v)}" for v in violations)
            self.findings.extend(f"{where}: {finding}" for finding in others)
            if screenshot:
                full_page_screenshot(self.driver, screenshot_folder() / f"{label}-{width}.png")

    def _stylesheets_applied(self) -> bool:
        try:
            WebDriverWait(self.driver, 2).until(lambda d: d.execute_script(_STYLESHEETS_APPLIED))
        except TimeoutException:
            return False
        return True

    def assert_clean(self) -> None:
        assert not self.findings, (
            f"{len(self.findings)} accessibility finding(s) at WCAG 2.2 AA:\n"
            + "\n".join(self.findings)
        )


def _violation_text(violation: dict) -> str:
    return (
        f"axe {violation['id']} [{violation['impact']}] {violation['help']} "
        f"at {violation['targets']}"
    )


def route_name(url: str) -> str:
    """``namespace:name`` of the route that answered ``url``; empty when none did (a 404)."""
    try:
        match = resolve(urlsplit(url).path)
    except Resolver404:
        return ""
    return f"{match.namespace}:{match.url_name}" if match.namespace else str(match.url_name)


def viewport_set(driver: webdriver.Chrome, width: int, height: int) -> None:
    """The page laid out again at this size, without reloading it (no form is sent twice)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
