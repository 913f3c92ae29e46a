"""Tests wait on events or poll with a deadline (tests.support.waiting); they never sleep and hope.

A sleep is allowed only where it *is* the behaviour: the poll's own interval, and test servers that
play a slow receiver or a slow shop. Anything else that calls ``time.sleep`` / ``asyncio.sleep`` in
tests/ fails here, with the place to look at.
"""

from __future__ import annotations

import ast

from tests.conftest import ROOT

ALLOWED = {
    "tests/support/waiting.py": "wait_until's poll interval, and pause(): a client slow to send, under test",
    "tests/support/receiver.py": "Receiver(delay=...): a receiver slow to answer",
    "tests/support/shop.py": "set_response(delay=...): a shop slow to answer",
}


def sleeps(path) -> list[int]:
    """Lines that call time.sleep / asyncio.sleep, or a ``sleep`` imported from either."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module in ("time", "asyncio")
        for alias in node.names
        if alias.name == "sleep"
    }
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "sleep"
            and isinstance(func.value, ast.Name)
            and func.value.id in ("time", "asyncio")
        ) or (isinstance(func, ast.Name) and func.id in imported):
            lines.append(node.lineno)
    return lines


def test_no_test_sleeps_to_wait_for_something():
    found = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if name not in ALLOWED and (lines := sleeps(path)):
            found[name] = lines
    assert found == {}, f"sleeps in tests (wait with tests.support.waiting.wait_until instead): {found}"


def test_the_check_finds_a_sleep(tmp_path):
    sample = tmp_path / "test_sample.py"
    sample.write_text(
        "import time\nfrom asyncio import sleep as nap\n\ndef test_x():\n    time.sleep(1)\n    nap(0.1)\n"
    )
    assert sleeps(sample) == [5, 6]
