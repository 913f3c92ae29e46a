"""DESIGN.md's import rules, read from the source: every stage may import core and db; db imports only
core; core imports no stage; nothing imports api; pipelines take only crawler.items from the crawler (and, in
``from_crawler``, the crawler process's manager, which holds each crawl's context)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("api", "core", "db", "crawler", "pipelines", "webhooks", "scheduler")


def _imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = {n for n in names if n.split(".")[0] in STAGES}
    return found


def _offending(package: str, allowed) -> list[str]:
    return sorted(
        f"{path} imports {name}" for path, names in _imports(package).items() for name in names if not allowed(name)
    )


def test_db_imports_only_core_and_itself():
    assert _offending("db", lambda name: name.split(".")[0] in ("db", "core")) == []


def test_core_imports_no_stage():
    assert _offending("core", lambda name: name.split(".")[0] == "core") == []


@pytest.mark.parametrize("package", [p for p in STAGES if p != "api"])
def test_nothing_imports_the_api(package):
    assert _offending(package, lambda name: name.split(".")[0] != "api") == []


def test_pipelines_take_only_the_items_from_the_crawler():
    allowed = ("crawler.items", "crawler.manager")
    assert _offending("pipelines", lambda name: not name.startswith("crawler") or name in allowed) == []


def test_defaults_live_only_in_the_settings_module():
    """No OBSRV_* setting is read with a fallback of its own: its one default is in core/settings.py."""
    import re

    fallback = re.compile(r"""(?:get\w*|environ\.get|getenv)\(\s*["'](OBSRV_\w+)["']\s*,""")
    found = sorted(
        f"{path.relative_to(ROOT)}: {match.group(1)}"
        for package in STAGES
        for path in (ROOT / package).rglob("*.py")
        if path != ROOT / "core" / "settings.py"
        for match in fallback.finditer(path.read_text(encoding="utf-8"))
    )
    assert found == []
