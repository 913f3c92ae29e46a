"""The README and .env.example document every setting the code reads."""

from core.settings import SETTINGS
from tests.conftest import ROOT


def test_every_setting_is_documented():
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / ".env.example").read_text()
    for name in SETTINGS:
        assert f"`{name}`" in readme, f"README lacks {name}"
        assert name in example, f".env.example lacks {name}"
    assert "make run" in readme and "make test" in readme


def test_the_readme_receiver_example_verifies_a_real_delivery():
    from webhooks.signing import new_secret, sign

    readme = (ROOT / "README.md").read_text()
    block = readme.split("```python\nimport hashlib, hmac, time", 1)[1].split("```", 1)[0]
    code = "import hashlib, hmac, time" + block.split("# Flask receiver", 1)[0]
    namespace: dict = {}
    exec(code, namespace)
    secret, body = new_secret(), b'{"id": "x", "type": "price_changed"}'
    header = sign(body, [new_secret(), secret], "x")["Obsrv-Signature"]  # mid-rotation: two v1 values
    assert namespace["verify_obsrv"](body, header, secret)
    assert not namespace["verify_obsrv"](body + b" ", header, secret)
    assert not namespace["verify_obsrv"](body, header, new_secret())
