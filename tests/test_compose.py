"""docker-compose.yml is valid (Docker cannot run here; Debian's docker-compose validates it)."""

import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose binary not installed")
def test_compose_file_validates():
    result = subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert {"postgres", "redis", "migrate", "api", "crawler", "worker", "scheduler"} <= set(services)
    for name in ("postgres", "redis", "api", "crawler", "worker", "scheduler"):
        assert "healthcheck" in services[name], name
        assert services[name]["restart"] == "unless-stopped", name
    assert services["migrate"]["command"] == ["python", "-m", "db", "migrate"]
    for name in ("api", "crawler", "worker", "scheduler"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "rq worker --with-scheduler" in " ".join(services["worker"]["command"])
    assert " ".join(services["worker"]["command"]).endswith(" webhooks")  # deliveries never wait behind crawls
    assert services["crawler"]["command"] == ["python", "-m", "crawler"]
