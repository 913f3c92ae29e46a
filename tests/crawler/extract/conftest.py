"""Shared paths and helpers for the extraction tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
CASES_DIR = REPO_ROOT / "tests" / "fixtures" / "extract"


def shared_fixtures_dir() -> Path:
    """``$OBSRV_FIXTURES_DIR``, else ``<repo root>/../shared/fixtures``."""
    configured = os.environ.get("OBSRV_FIXTURES_DIR")
    return Path(configured) if configured else (REPO_ROOT / ".." / "shared" / "fixtures").resolve()


def case_names() -> list[str]:
    """Every ``<case>.json`` (expected output) in the cases directory."""
    return sorted(
        path.name[: -len(".json")] for path in CASES_DIR.glob("*.json") if not path.name.endswith(".meta.json")
    )


def load_case(name: str) -> tuple[bytes, dict, dict]:
    """(html bytes, meta, expected) of one case; ``meta["html"]`` may name another
    case's recorded page (the same page fetched under another URL)."""
    meta_path = CASES_DIR / f"{name}.meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
    html = (CASES_DIR / meta.get("html", f"{name}.html")).read_bytes()
    expected = json.loads((CASES_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return html, meta, expected


@pytest.fixture(scope="session")
def books_dir() -> Path:
    directory = shared_fixtures_dir() / "books-toscrape" / "catalogue"
    assert directory.is_dir(), (
        f"{directory} is missing: put the shared fixtures beside the repository or point OBSRV_FIXTURES_DIR at them"
    )
    return directory
