"""Clients, their API keys and the audit log."""

from __future__ import annotations

from psycopg.types.json import Jsonb

KEY_COLUMNS = "id, client_id, name, prefix, scopes, created_at, last_used_at, invalidated_at"


def create_client(conn, name: str) -> int:
    return conn.execute("INSERT INTO clients (name) VALUES (%s) RETURNING id", (name,)).fetchone()["id"]


def insert_key(conn, *, client_id: int, name: str, prefix: str, digest: bytes, scopes: list[str]) -> dict:
    return conn.execute(
        f"""INSERT INTO api_keys (client_id, name, prefix, digest, scopes)
            VALUES (%s, %s, %s, %s, %s) RETURNING {KEY_COLUMNS}""",
        (client_id, name, prefix, digest, scopes),
    ).fetchone()


def keys_by_prefix(conn, prefix: str) -> list[dict]:
    """The auth hot path: candidates for one key prefix (normally one row)."""
    return conn.execute(
        "SELECT id, client_id, prefix, digest, scopes, invalidated_at FROM api_keys WHERE prefix = %s",
        (prefix,),
    ).fetchall()


def list_keys(conn, client_id: int) -> list[dict]:
    return conn.execute(
        f"""SELECT {KEY_COLUMNS} FROM api_keys
             WHERE client_id = %s AND invalidated_at IS NULL ORDER BY created_at, id""",
        (client_id,),
    ).fetchall()


def invalidate_key(conn, *, client_id: int, key_id: int) -> dict | None:
    """Invalidate one of the client's keys; None if it has no such live key."""
    return conn.execute(
        f"""UPDATE api_keys SET invalidated_at = now()
             WHERE id = %s AND client_id = %s AND invalidated_at IS NULL
         RETURNING {KEY_COLUMNS}""",
        (key_id, client_id),
    ).fetchone()


def touch_key(conn, key_id: int) -> None:
    conn.execute("UPDATE api_keys SET last_used_at = now() WHERE id = %s", (key_id,))


def audit(
    conn,
    *,
    client_id: int | None,
    api_key_id: int | None,
    action: str,
    target_type: str,
    target_id: int | None,
    details: dict | None = None,
    request_id: str | None = None,
) -> None:
    conn.execute(
        """INSERT INTO audit_log (client_id, api_key_id, action, target_type, target_id, details, request_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s)""",
        (client_id, api_key_id, action, target_type, target_id, Jsonb(details or {}), request_id),
    )
