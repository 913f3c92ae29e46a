"""Command line: ``python -m api create-client NAME``.

Prints the new client's id and its first key (scopes read, write, admin),
once. Uses ``DATABASE_URL``, or the embedded database of a running
``make run`` of this checkout.
"""

from __future__ import annotations

import argparse
import sys

import psycopg
from psycopg.rows import dict_row

from api.auth import create_client
from core.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-client", help="create a client and print its first admin API key")
    create.add_argument("name")
    args = parser.parse_args(argv)

    name = args.name.strip()
    if not 1 <= len(name) <= 200:
        parser.error("NAME must be 1 to 200 characters")
    settings = load_settings()
    if not settings["DATABASE_URL"]:
        print("error: DATABASE_URL is not set and no `make run` of this checkout is running", file=sys.stderr)
        return 2
    try:
        with psycopg.connect(settings["DATABASE_URL"], row_factory=dict_row) as conn:
            client_id, row, key, secret = create_client(conn, name)
    except psycopg.Error as exc:
        print(f"error: could not create the client: {exc}", file=sys.stderr)
        return 1
    print(f"client_id: {client_id}")
    print(f"api_key:   {key}")
    print(f"scopes:    {', '.join(row['scopes'])}")
    print(f"webhook_secret: {secret}")
    print(
        "Keep the key and the webhook secret now: they are shown once. Use the key as "
        "'Authorization: Bearer <key>'; verify webhooks with the secret (README).",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
