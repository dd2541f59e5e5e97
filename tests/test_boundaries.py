"""The package boundaries of docs/architecture.md, enforced.

Every module under tipline/ and config/ is parsed (not imported) and every
import it makes, at the top or inside a function, is checked against the
rules below. A rule names the modules it governs and the imports they may not
make. Relative imports are resolved first, so ``from ..triage import x`` counts
as ``tipline.triage``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tipline", "config")

# What the pure libraries may use besides the standard library.
CRYPTO_MAY_USE = ("cryptography", "argon2", "tipline.crypto")
SANITIZE_MAY_USE = (
    "PIL",
    "pillow_heif",
    "pikepdf",
    "av",
    "mutagen",
    "defusedxml",
    "tipline.sanitize",
)
SOURCE_SIDE = ("tipline.intake",)
# The first-run page (tipline.setup) makes staff accounts and keys: it is staff side.
STAFF_SIDE = ("tipline.triage", "tipline.accounts", "tipline.setup")
PAGES = ("tipline.intake.views", "tipline.triage.views", "tipline.setup.views", "tipline.views")
COMMAND_LINE = ("tipline.management", "tipline.export")
# The shared core every side builds on: it must not lean on any side.
CORE = (
    "tipline.models",
    "tipline.keyring",
    "tipline.sealed",
    "tipline.storage",
    "tipline.audit",
    "tipline.filenames",
    "tipline.passphrases",
    "tipline.private_files",
    "tipline.report_text",
    "tipline.pipeline_key",
)
SIDES = (*SOURCE_SIDE, *STAFF_SIDE, "tipline.worker", "tipline.retention", *COMMAND_LINE)


@dataclass(frozen=True)
class Rule:
    name: str
    governs: tuple[str, ...]
    forbids: tuple[str, ...] = ()
    # When set, everything third-party or of the app outside this list is forbidden.
    only_stdlib_and: tuple[str, ...] | None = None
    # Modules under ``governs`` that the rule leaves out.
    exempt: tuple[str, ...] = ()


RULES = [
    Rule("crypto/ is a pure library", ("tipline.crypto",), only_stdlib_and=CRYPTO_MAY_USE),
    Rule("sanitize/ is a pure library", ("tipline.sanitize",), only_stdlib_and=SANITIZE_MAY_USE),
    Rule("the source side never imports the staff side", SOURCE_SIDE, forbids=STAFF_SIDE),
    Rule("the staff side never imports the source side", STAFF_SIDE, forbids=SOURCE_SIDE),
    Rule("retention does not import staff pages", ("tipline.retention",), forbids=STAFF_SIDE),
    Rule("the worker imports no page", ("tipline.worker",), forbids=(*STAFF_SIDE, *PAGES)),
    Rule("no page imports the command-line code", PAGES, forbids=COMMAND_LINE),
    Rule("the core leans on no side", CORE, forbids=SIDES),
    # The web server routes to the sides and hands them what they need (the
    # Django step, the thread pools); nothing below it reaches up into it.
    Rule("nothing imports the web server", (*CORE, *SIDES), forbids=("tipline.server",)),
    Rule(
        "only crypto/ imports cryptography",
        ("tipline", "config"),
        forbids=("cryptography",),
        exempt=("tipline.crypto",),
    ),
]


def _matches(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, module: str, *, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import in ``source``, relative ones resolved."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from tipline import sealed`` imports tipline.sealed: check each name too.
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def _is_stdlib(module: str) -> bool:
    import sys

    return module.split(".")[0] in sys.stdlib_module_names or module == "__future__"


def violations(rule: Rule, module: str, source: str, *, is_package: bool) -> list[str]:
    if not _matches(module, rule.governs) or _matches(module, rule.exempt):
        return []
    found = []
    for line, imported in imports_of(source, module, is_package=is_package):
        if rule.only_stdlib_and is not None:
            allowed = _is_stdlib(imported) or _matches(imported, rule.only_stdlib_and)
            # ``from tipline.crypto import x`` also yields tipline.crypto.x: fine.
            bad = not allowed
        else:
            bad = _matches(imported, rule.forbids)
        if bad:
            found.append(f"{module}:{line} imports {imported}")
    return sorted(set(found))


def project_modules() -> Iterator[tuple[str, str, bool]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            yield module_name(path), path.read_text(encoding="utf-8"), path.name == "__init__.py"


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_the_boundary_holds(rule: Rule) -> None:
    broken = [
        violation
        for module, source, is_package in project_modules()
        for violation in violations(rule, module, source, is_package=is_package)
    ]
    assert broken == [], f"{rule.name}: " + "; ".join(broken)


def test_every_rule_governs_existing_modules() -> None:
    """A rule about a package that was renamed away would pass forever."""
    modules = [module for module, _source, _package in project_modules()]
    for rule in RULES:
        assert any(_matches(module, rule.governs) for module in modules), rule.name


# --- The checker itself catches what it must ----------------------------------------------


@pytest.mark.parametrize(
    ("rule_name", "module", "source"),
    [
        ("crypto/ is a pure library", "tipline.crypto.keys", "from django.conf import settings"),
        ("crypto/ is a pure library", "tipline.crypto.keys", "import tipline.models"),
        (
            "sanitize/ is a pure library",
            "tipline.sanitize.report",
            "from django.utils.translation import gettext",
        ),
        (
            "sanitize/ is a pure library",
            "tipline.sanitize.pdf",
            "def f():\n    from tipline.storage import read_blob",
        ),
        (
            "the source side never imports the staff side",
            "tipline.intake.views",
            "from tipline.triage.inbox import readable_tips",
        ),
        (
            "the staff side never imports the source side",
            "tipline.triage.views.tip",
            "from ...intake import services",
        ),
        (
            "the staff side never imports the source side",
            "tipline.setup.views",
            "from tipline.intake.services import tip_create",
        ),
        (
            "no page imports the command-line code",
            "tipline.setup.views",
            "from tipline.management.commands.setup_link import setup_url",
        ),
        (
            "retention does not import staff pages",
            "tipline.retention.scheduler",
            "from tipline.triage import tip_page",
        ),
        (
            "no page imports the command-line code",
            "tipline.triage.views.files",
            "from tipline.export import tip_export",
        ),
        ("the core leans on no side", "tipline.sealed", "from tipline import worker"),
        (
            "nothing imports the web server",
            "tipline.intake.streaming",
            "from tipline.server.limits import RateGuard",
        ),
        ("only crypto/ imports cryptography", "tipline.keyring", "import cryptography.hazmat"),
    ],
)
def test_the_checker_finds_a_forbidden_import(rule_name: str, module: str, source: str) -> None:
    rule = next(rule for rule in RULES if rule.name == rule_name)
    assert violations(rule, module, source, is_package=False)


def test_the_checker_lets_allowed_imports_pass() -> None:
    crypto = next(rule for rule in RULES if rule.name == "crypto/ is a pure library")
    allowed = "import os\nfrom cryptography.hazmat import x\nfrom .errors import CryptoError"
    assert violations(crypto, "tipline.crypto.keys", allowed, is_package=False) == []
