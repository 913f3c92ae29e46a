"""The README and .env.example document every setting the code reads."""

from db.settings import SETTINGS
from tests.conftest import ROOT


def test_every_setting_is_documented():
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / ".env.example").read_text()
    for name in SETTINGS:
        assert f"`{name}`" in readme, f"README lacks {name}"
        assert name in example, f".env.example lacks {name}"
    assert "make run" in readme and "make test" in readme
