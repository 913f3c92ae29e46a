"""``python -m crawler.extract --url URL FILE.html``"""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import CASES_DIR, REPO_ROOT


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crawler.extract", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_prints_the_product_as_json():
    url = "https://www.summit-outfitters.example/gear/packs/trailblazer-45l-backpack"
    result = _run("--url", url, str(CASES_DIR / "jsonld_offer.html"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('{\n  "name": ')  # indent 2, fields in interface order
    data = json.loads(result.stdout)
    assert list(data)[:9] == ["name", "price", "currency", "availability", "sku", "gtin", "brand", "image", "sources"]
    assert data["price"] == "189.95"
    assert data["currency"] == "USD"
    assert data["availability"] == "InStock"
    assert data["sources"]["price"] == "jsonld"
    assert data["is_product"] is True


def test_selectors_option():
    result = _run(
        "--url",
        "https://www.radhaus-weber.example/e-bikes/urban-glide-500",
        "--selectors",
        '{"price": "span.pp-amt"}',
        str(CASES_DIR / "selector_override.html"),
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["price"], data["sources"]["price"]) == ("2599.00", "selectors")


def test_status_option_marks_block_pages():
    result = _run("--url", "https://shop.example/p/1", "--status", "403", str(CASES_DIR / "access_denied_403.html"))
    assert result.returncode == 0
    assert json.loads(result.stdout)["blocked"]


def test_unreadable_file_exits_2(tmp_path):
    result = _run("--url", "https://shop.example/p/1", str(tmp_path / "missing.html"))
    assert result.returncode == 2
    assert "missing.html" in result.stderr
    assert result.stdout == ""


def test_bad_selectors_exit_2():
    result = _run("--url", "https://shop.example/p/1", "--selectors", "{not json", str(CASES_DIR / "jsonld_offer.html"))
    assert result.returncode == 2
    assert "--selectors" in result.stderr
