"""docker-compose.yml is valid (Docker cannot run here; Debian's docker-compose validates it)."""

import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose binary not installed")
def test_compose_file_validates():
    result = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert {"postgres", "redis", "migrate", "front", "api", "crawler", "worker", "scheduler"} <= set(services)
    for name in ("postgres", "redis", "front", "api", "crawler", "worker", "scheduler"):
        assert "healthcheck" in services[name], name
        assert services[name]["restart"] == "unless-stopped", name
    assert services["migrate"]["command"] == ["python", "-m", "db", "migrate"]
    for name in ("api", "crawler", "worker", "scheduler"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "rq worker --with-scheduler" in " ".join(services["worker"]["command"])
    assert " ".join(services["worker"]["command"]).endswith(" webhooks")  # deliveries never wait behind crawls
    assert services["crawler"]["command"] == ["python", "-m", "crawler"]


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose binary not installed")
def test_compose_publishes_only_the_bounded_front():
    """#12 (17): the API is reached through HAProxy (api/haproxy.cfg: whole requests in bounded time, see
    tests/e2e/test_slow_clients.py); the API itself is not published."""
    result = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"front"}, published
    ports = [
        p if isinstance(p, dict) else dict(zip(("published", "target"), str(p).rsplit(":", 2)[-2:]))
        for p in services["front"]["ports"]
    ]
    assert [(int(p["published"]), int(p["target"])) for p in ports] == [(8000, 8000)]  # ${OBSRV_PORT:-8000}
    assert services["front"]["environment"]["OBSRV_API_ADDR"] == "api:8000"
    assert services["api"]["environment"]["OBSRV_PORT"] == "8000"
    mounted = [v if isinstance(v, str) else f"{v['source']}:{v['target']}" for v in services["front"]["volumes"]]
    assert any(m.startswith(str(ROOT / "api" / "haproxy.cfg") + ":") for m in mounted), mounted
    assert services["front"]["depends_on"]["api"]["condition"] == "service_healthy"
