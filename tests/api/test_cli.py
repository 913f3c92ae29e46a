"""`python -m api create-client NAME` bootstraps a client and its first admin key."""

import subprocess
import sys

from tests.conftest import ROOT, bearer


def run_cli(services, *args):
    return subprocess.run(
        [sys.executable, "-m", "api", *args], cwd=ROOT, env=services.env(), capture_output=True, text=True, timeout=60
    )


def test_create_client_prints_id_and_a_working_admin_key(services, db, client):
    result = run_cli(services, "create-client", "Acme Ltd")
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(":", 1) for line in result.stdout.strip().splitlines())
    client_id, key = int(lines["client_id"]), lines["api_key"].strip()
    assert db.execute("SELECT name FROM clients WHERE id = %s", (client_id,)).fetchone()["name"] == "Acme Ltd"
    response = client.get("/v1/auth/keys", headers=bearer(key))
    assert response.status_code == 200
    assert response.get_json()[0]["scopes"] == ["read", "write", "admin"]
    audit = db.execute("SELECT action FROM audit_log WHERE client_id = %s ORDER BY id", (client_id,)).fetchall()
    assert [a["action"] for a in audit] == ["client.created", "api_key.created"]


def test_create_client_rejects_bad_input_and_missing_database(services, db, tmp_path):
    assert run_cli(services, "create-client", "").returncode == 2
    result = subprocess.run(
        [sys.executable, "-m", "api", "create-client", "X"],
        cwd=ROOT,
        env={**services.env(), "DATABASE_URL": "", "OBSRV_RUN_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "DATABASE_URL" in result.stderr
