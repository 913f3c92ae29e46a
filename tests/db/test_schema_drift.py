"""Schema drift: a database built from db/migrations, compared with what the code expects of it.

Three sources of "what the code expects":

1. **The code's own SQL.** Every SQL statement written in the application's modules (api, core, crawler,
   db, pipelines, scheduler, webhooks) is found by walking their syntax trees; f-string parts that name a
   module constant (``{EVENT_COLUMNS}``) are filled in, and each statement is planned by Postgres against
   the migrated schema (``EXPLAIN (GENERIC_PLAN)``, nothing runs). A migration that drops or renames a
   column, a table or the unique index an ``ON CONFLICT`` names fails here, naming the file and line of
   the statement and Postgres's own error. Statements put together at run time (a ``WHERE`` built from
   filters) cannot be planned from the source; they are listed, and their count is bounded.
2. **The product field list** (crawler.items) against the products and observations columns, and the
   vocabularies the code keeps (statuses, availability values) against the CHECK constraints.
3. **An expected description kept here** (EXPECTED_COLUMNS, RELIED_ON): the type and nullability of every
   column the code reads or writes, and the unique indexes, foreign-key cascades and partitioning the
   code's correctness rests on without naming them in SQL (one running crawl per website, one current
   secret per client, deleting a website deletes its history). Columns and tables the code does not know
   yet are allowed; a change to one it knows fails, with what changed.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import re

import psycopg
import pytest

from core.settings import with_database
from db.migrate import migrate
from tests.conftest import ROOT

PACKAGES = ("api", "core", "crawler", "db", "pipelines", "scheduler", "webhooks")
#: the start of an SQL statement (not an HTTP method name or a word in a message)
SQL_START = re.compile(
    r"^\s*\(?\s*(?:SELECT\s|INSERT\s+INTO\s|UPDATE\s+\w+(?:\s+\w+)?\s+SET\s|DELETE\s+FROM\s"
    r"|WITH\s+\w+\s+AS\s|COPY\s+\w+\s*\()"
)
COPY_FROM_STDIN = re.compile(r"^\s*COPY\s+(\w+)\s*\(([^)]*)\)\s+FROM\s+STDIN\s*$", re.S)
PLACEHOLDER = re.compile(r"%%|%\((\w+)\)[sbt]|%[sbt]")
#: at most this many statements may be built at run time (so the check cannot quietly cover nothing)
MAX_DYNAMIC = 25
MIN_CHECKED = 70


# -- the code's SQL ----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Statement:
    where: str  # file:line
    text: str | None  # the SQL, complete; None when it is built at run time
    why: str = ""  # what could not be filled in


def _module_constants(tree: ast.Module) -> set[str]:
    """Names assigned at a module's top level (its constants: ``EVENT_COLUMNS = "..."``)."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        else:
            targets = [node.target] if isinstance(node, ast.AnnAssign) else []
        names |= {target.id for target in targets if isinstance(target, ast.Name)}
    return names


def _evaluable(expr: ast.expr, constants: set[str]) -> bool:
    """A module constant, or ``"sep".join(<module constant>)``: safe to evaluate in the module's globals."""
    if isinstance(expr, ast.Name):
        return expr.id in constants
    return (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr == "join"
        and isinstance(expr.func.value, ast.Constant)
        and len(expr.args) == 1
        and not expr.keywords
        and _evaluable(expr.args[0], constants)
    )


class Unresolved(Exception):
    """A part of the statement known only at run time (its source is the message)."""


def _resolve(node: ast.expr, namespace, constants: set[str]) -> str:
    """The text of a string expression: constants, f-strings, ``+`` and module constants filled in."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            _resolve(part.value if isinstance(part, ast.FormattedValue) else part, namespace, constants)
            for part in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _resolve(node.left, namespace, constants) + _resolve(node.right, namespace, constants)
    if not _evaluable(node, constants):
        raise Unresolved(ast.unparse(node))
    try:
        value = eval(compile(ast.Expression(node), "<sql>", "eval"), namespace())
    except Exception:  # noqa: BLE001 - whatever it is, it is not a constant
        raise Unresolved(ast.unparse(node)) from None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Unresolved(ast.unparse(node))
    return str(value)


def _leftmost_text(node: ast.expr) -> str:
    while True:
        if isinstance(node, ast.BinOp):
            node = node.left
        elif isinstance(node, ast.JoinedStr) and node.values:
            node = node.values[0]
        else:
            return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""


def code_statements() -> list[Statement]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []:
            relative = path.relative_to(ROOT)
            tree = ast.parse(path.read_text(encoding="utf-8"), str(relative))
            inner = {
                id(child)
                for node in ast.walk(tree)
                if isinstance(node, (ast.JoinedStr, ast.BinOp, ast.FormattedValue))
                for child in ast.iter_child_nodes(node)
            }
            module = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
            constants = _module_constants(tree)
            # a module constant used as a part of ``a + b`` is a fragment: it is checked inside those statements
            joined = {
                operand.id
                for node in ast.walk(tree)
                if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add)
                for operand in (node.left, node.right)
                if isinstance(operand, ast.Name)
            }
            inner |= {
                id(node.value)
                for node in tree.body
                if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id in joined for t in node.targets)
            }

            def namespace(module=module):
                return vars(importlib.import_module(module))

            for node in ast.walk(tree):
                if id(node) in inner or not isinstance(node, (ast.Constant, ast.JoinedStr, ast.BinOp)):
                    continue
                if isinstance(node, ast.BinOp) and not isinstance(node.op, ast.Add):
                    continue
                where = f"{relative}:{node.lineno}"
                try:
                    text = _resolve(node, namespace, constants)
                except Unresolved as part:
                    if SQL_START.match(_leftmost_text(node)):
                        found.append(Statement(where, None, str(part)))
                    continue
                if not SQL_START.match(text):
                    continue
                if isinstance(node, ast.Constant) and re.search(r"\{\w*\}", text):
                    found.append(Statement(where, None, "a psycopg.sql template, composed at run time"))
                else:
                    found.append(Statement(where, text))
    return sorted(found, key=lambda s: s.where)


def as_postgres(text: str) -> str:
    """psycopg's placeholders (%s, %(name)s) as $n; a COPY's column list as the SELECT of those columns."""
    copy = COPY_FROM_STDIN.match(text)
    if copy:
        return f"SELECT {copy.group(2)} FROM {copy.group(1)}"
    numbers: dict[str, int] = {}

    def number(match: re.Match) -> str:
        if match.group(0) == "%%":
            return "%"
        key = match.group(1) or f"#{len(numbers)}"
        numbers.setdefault(key, len(numbers) + 1)
        return f"${numbers[key]}"

    return PLACEHOLDER.sub(number, text)


STATEMENTS = code_statements()
CHECKED = [s for s in STATEMENTS if s.text is not None]
DYNAMIC = [s for s in STATEMENTS if s.text is None]


# -- the database built from the migrations ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def migrated(services):
    """A connection to a database made from nothing by the migrations (as a new deployment gets it)."""
    name = "obsrv_schema_drift"
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(services.database_url, name)
    migrate(url)
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def plan(conn, sql: str) -> None:
    """Have Postgres resolve and plan the statement without running it (its parameters unknown)."""
    if conn.info.server_version >= 160000:
        conn.execute(f"EXPLAIN (GENERIC_PLAN) {sql}")
        return
    try:  # before Postgres 16: PREPARE resolves every name (it does not plan)
        conn.execute(f"PREPARE schema_drift_check AS {sql}")
        conn.execute("DEALLOCATE schema_drift_check")
    except psycopg.errors.IndeterminateDatatype:
        pass  # raised after every table and column was resolved


@pytest.mark.parametrize("statement", CHECKED, ids=[s.where for s in CHECKED])
def test_the_codes_sql_plans_against_the_migrated_schema(migrated, statement):
    try:
        plan(migrated, as_postgres(statement.text))
    except psycopg.Error as exc:
        pytest.fail(
            f"{statement.where}: the migrations' schema does not fit this statement: "
            f"{type(exc).__name__}: {exc}\n{statement.text.strip()}",
            pytrace=False,
        )


def test_the_scan_finds_the_codes_sql():
    """Most statements are checked; the few built at run time are named (each a candidate for a constant)."""
    assert len(CHECKED) >= MIN_CHECKED, [s.where for s in CHECKED]
    assert len(DYNAMIC) <= MAX_DYNAMIC, "\n".join(f"{s.where}: {{{s.why}}}" for s in DYNAMIC)
    wheres = {s.where.split(":")[0] for s in CHECKED}
    assert {
        "db/queries/crawls.py",
        "db/queries/webhooks.py",
        "db/queries/websites.py",
        "db/queries/work.py",
        "db/queries/products.py",
        "db/queries/clients.py",
        "db/queries/history.py",
    } <= wheres


def test_a_dropped_or_renamed_column_fails_the_check(migrated):
    """The check itself: rename products.list_price, and every statement using it fails, naming the column."""

    def fails(statement) -> str | None:
        with migrated.transaction(force_rollback=True):
            try:
                plan(migrated, as_postgres(statement.text))
            except psycopg.Error as exc:
                return f"{type(exc).__name__}: {exc}"
        return None

    users = [
        s
        for s in CHECKED
        if re.search(r"\blist_price\b", s.text) and re.search(r"\bproducts\b", s.text) and fails(s) is None
    ]
    assert users, "no statement uses products.list_price any more: pick another column for this test"
    with migrated.transaction(force_rollback=True):
        migrated.execute("ALTER TABLE products RENAME COLUMN list_price TO list_price_renamed")
        failures = {s.where: fails(s) for s in users}
    assert all(f and f.startswith("UndefinedColumn") and "list_price" in f for f in failures.values()), failures
    assert fails(users[0]) is None  # and the schema is whole again


def test_placeholders_and_copy_are_translated():
    assert as_postgres("SELECT a FROM t WHERE b = %s AND c = %(c)s AND d = %s AND e LIKE 'x%%' AND f = %(c)s") == (
        "SELECT a FROM t WHERE b = $1 AND c = $2 AND d = $3 AND e LIKE 'x%' AND f = $2"
    )
    assert as_postgres("COPY observations (product_id, ok) FROM STDIN") == "SELECT product_id, ok FROM observations"


# -- the product field list and the vocabularies -----------------------------------------------------------------
def columns_of(conn, table: str) -> dict[str, tuple[str, bool]]:
    """column -> (type, NOT NULL) of a table (a partitioned one included), in Postgres's own type names."""
    rows = conn.execute(
        """SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped""",
        (table,),
    ).fetchall()
    return {name: (kind.replace("timestamp with time zone", "timestamptz"), notnull) for name, kind, notnull in rows}


#: fields of the extracted product that are not stored, and why
NOT_STORED = {
    "stock_quantity": "shown in the crawl, not kept",
    "canonical_url": "decides the product's url and identity (NormalizePipeline); not kept apart",
}
#: fields of one observation that are its crawl's business, not a column
NOT_OBSERVED = {
    "website_id": "the product's",
    "changes": "become change_events rows (the outbox)",
    "sources": "kept on the product (latest)",
    "url": "the product's",
    "identity": "the product's",
}
#: a product's latest state that each observation records as history
OBSERVED_STATE = ("price", "currency", "availability", "list_price", "offers")


def test_every_product_field_has_its_column(migrated):
    from crawler.items import CandidateItem, ObservationItem, ProductFields

    products, observations = columns_of(migrated, "products"), columns_of(migrated, "observations")
    fields = {f.name for f in dataclasses.fields(ProductFields)}
    assert set(NOT_STORED) <= fields, "NOT_STORED names a field the product no longer has"
    missing = sorted(fields - set(NOT_STORED) - set(products))
    assert missing == [], f"product fields without a products column (a migration, or NOT_STORED): {missing}"
    assert "discovery_score" in products and "score" in {f.name for f in dataclasses.fields(CandidateItem)}

    observation_fields = {f.name for f in dataclasses.fields(ObservationItem)} - fields
    missing = sorted(observation_fields - set(NOT_OBSERVED) - set(observations))
    assert missing == [], f"observation fields without an observations column: {missing}"
    assert set(OBSERVED_STATE) <= fields and set(OBSERVED_STATE) <= set(observations)
    for column in OBSERVED_STATE:  # history keeps the latest state's type
        assert observations[column][0] == products[column][0], column


def check_values(conn, table: str, column: str) -> set[str]:
    """The quoted values of the CHECK constraint that limits ``table.column`` to a list."""
    for (definition,) in conn.execute(
        """SELECT pg_get_constraintdef(oid) FROM pg_constraint
                WHERE contype = 'c' AND conrelid = %s::regclass""",
        (table,),
    ).fetchall():
        if re.search(rf"\(\(?{column}\s*=\s*ANY|\({column}\s*=\s*ANY|\b{column}\b.*ARRAY\[", definition):
            return set(re.findall(r"'([^']*)'::text", definition))
    raise AssertionError(f"no CHECK constraint lists the values of {table}.{column}")


#: (table, column) -> where the code keeps its list of the values (module, name)
VOCABULARIES = [
    ("websites", "status", "scheduler.lifecycle", "STATUSES"),
    ("products", "availability", "pipelines.normalize", "AVAILABILITY"),
    ("products", "availability", "api.resources.products", "AVAILABILITY"),
    ("products", "availability", "crawler.extract.availability", "AVAILABILITY_VALUES"),
]


@pytest.mark.parametrize(
    "table, column, module, name", VOCABULARIES, ids=[f"{t}.{c}-{m}.{n}" for t, c, m, n in VOCABULARIES]
)
def test_the_codes_vocabulary_is_the_schemas(migrated, table, column, module, name):
    in_code = set(getattr(importlib.import_module(module), name))
    assert check_values(migrated, table, column) == in_code


# -- the expected description: columns, and what the code relies on without naming it ----------------------------
EXPECTED_COLUMNS = {
    "clients": {"id": "bigint NOT NULL", "name": "text NOT NULL", "created_at": "timestamptz NOT NULL"},
    "api_keys": {
        "id": "bigint NOT NULL",
        "client_id": "bigint NOT NULL",
        "name": "text NOT NULL",
        "prefix": "text NOT NULL",
        "digest": "bytea NOT NULL",
        "scopes": "text[] NOT NULL",
        "created_at": "timestamptz NOT NULL",
        "last_used_at": "timestamptz",
        "invalidated_at": "timestamptz",
    },
    "audit_log": {
        "id": "bigint NOT NULL",
        "client_id": "bigint",
        "api_key_id": "bigint",
        "action": "text NOT NULL",
        "target_type": "text NOT NULL",
        "target_id": "bigint",
        "details": "jsonb NOT NULL",
        "request_id": "text",
        "created_at": "timestamptz NOT NULL",
    },
    "websites": {
        "id": "bigint NOT NULL",
        "client_id": "bigint NOT NULL",
        "name": "text NOT NULL",
        "domain": "text NOT NULL",
        "seed_urls": "text[] NOT NULL",
        "status": "text NOT NULL",
        "status_reason": "text",
        "schedule": "text NOT NULL",
        "next_crawl_at": "timestamptz",
        "price_threshold_pct": "numeric(6,3) NOT NULL",
        "webhook_url": "text",
        "webhook_mode": "text NOT NULL",
        "webhook_enabled": "boolean NOT NULL",
        "render_js": "boolean NOT NULL",
        "selectors": "jsonb NOT NULL",
        "crawl_rate_per_minute": "integer NOT NULL",
        "consecutive_failures": "integer NOT NULL",
        "created_at": "timestamptz NOT NULL",
        "updated_at": "timestamptz NOT NULL",
    },
    "webhook_secrets": {
        "id": "bigint NOT NULL",
        "client_id": "bigint NOT NULL",
        "secret": "text NOT NULL",
        "created_at": "timestamptz NOT NULL",
        "valid_until": "timestamptz",
    },
    "crawl_work": {
        "id": "bigint NOT NULL",
        "website_id": "bigint NOT NULL",
        "kind": "text NOT NULL",
        "job_id": "text NOT NULL",
        "product_ids": "bigint[]",
        "status": "text NOT NULL",
        "run_after": "timestamptz NOT NULL",
        "attempts": "integer NOT NULL",
        "claimed_by": "text",
        "heartbeat_at": "timestamptz",
        "note": "text",
        "created_at": "timestamptz NOT NULL",
        "finished_at": "timestamptz",
    },
    "crawl_runs": {
        "id": "bigint NOT NULL",
        "website_id": "bigint NOT NULL",
        "kind": "text NOT NULL",
        "job_id": "text",
        "status": "text NOT NULL",
        "started_at": "timestamptz NOT NULL",
        "finished_at": "timestamptz",
        "duration_ms": "integer",
        "heartbeat_at": "timestamptz NOT NULL",
        "worker": "text",
        "pages_fetched": "integer NOT NULL",
        "products_attempted": "integer NOT NULL",
        "products_ok": "integer NOT NULL",
        "products_failed": "integer NOT NULL",
        "changes_detected": "integer NOT NULL",
        "error_type": "text",
        "error_message": "text",
        "error_products": "jsonb NOT NULL",
        "work_id": "bigint",
        "summary": "text",
    },
    "products": {
        "id": "bigint NOT NULL",
        "website_id": "bigint NOT NULL",
        "url": "text NOT NULL",
        "identity": "text NOT NULL",
        "sku": "text",
        "gtin": "text",
        "platform_id": "text",
        "status": "text NOT NULL",
        "discovery_score": "real",
        "name": "text",
        "brand": "text",
        "image": "text",
        "price": "numeric",
        "currency": "character(3)",
        "availability": "text",
        "sources": "jsonb NOT NULL",
        "last_observed_at": "timestamptz",
        "last_ok_at": "timestamptz",
        "last_changed_at": "timestamptz",
        "notified_price": "numeric",
        "notified_currency": "character(3)",
        "notified_availability": "text",
        "approved_at": "timestamptz",
        "created_at": "timestamptz NOT NULL",
        "updated_at": "timestamptz NOT NULL",
        "list_price": "numeric",
        "offers": "jsonb",
    },
    "observations": {
        "id": "bigint NOT NULL",
        "product_id": "bigint NOT NULL",
        "crawl_run_id": "bigint",
        "observed_at": "timestamptz NOT NULL",
        "ok": "boolean NOT NULL",
        "price": "numeric",
        "currency": "character(3)",
        "availability": "text",
        "http_status": "smallint",
        "error_type": "text",
        "error": "text",
        "flagged": "boolean NOT NULL",
        "list_price": "numeric",
        "offers": "jsonb",
    },
    "change_events": {
        "id": "bigint NOT NULL",
        "uid": "uuid NOT NULL",
        "website_id": "bigint NOT NULL",
        "product_id": "bigint",
        "type": "text NOT NULL",
        "before": "jsonb",
        "after": "jsonb",
        "change_pct": "numeric",
        "observed_at": "timestamptz",
        "created_at": "timestamptz NOT NULL",
        "attempts": "integer NOT NULL",
        "next_attempt_at": "timestamptz NOT NULL",
        "delivered_at": "timestamptz",
        "exhausted_at": "timestamptz",
        "digest_id": "bigint",
        "lease_token": "uuid",
        "leased_until": "timestamptz",
    },
    "webhook_deliveries": {
        "id": "bigint NOT NULL",
        "event_id": "bigint NOT NULL",
        "website_id": "bigint NOT NULL",
        "attempt": "integer NOT NULL",
        "attempted_at": "timestamptz NOT NULL",
        "url": "text NOT NULL",
        "status_code": "integer",
        "latency_ms": "integer",
        "success": "boolean NOT NULL",
        "error": "text",
    },
    "product_statistics": {
        "product_id": "bigint NOT NULL",
        "month": "date NOT NULL",
        "currency": "character(3)",
        "min_price": "numeric",
        "max_price": "numeric",
        "avg_price": "numeric",
        "last_price": "numeric",
        "observations": "integer NOT NULL",
        "ok_observations": "integer NOT NULL",
        "in_stock_ratio": "numeric(5,4)",
        "computed_at": "timestamptz NOT NULL",
    },
}


def test_every_column_the_code_knows_has_its_type_and_nullability(migrated):
    drift = []
    for table, expected in EXPECTED_COLUMNS.items():
        actual = columns_of(migrated, table)
        if not actual:
            drift.append(f"{table}: no such table")
            continue
        for column, description in expected.items():
            if column not in actual:
                drift.append(f"{table}.{column}: dropped or renamed (expected {description})")
                continue
            kind, notnull = actual[column]
            found = kind + (" NOT NULL" if notnull else "")
            if found != description:
                drift.append(f"{table}.{column}: {found}, expected {description}")
    assert drift == [], "the migrations' schema drifted from what the code expects:\n  " + "\n  ".join(drift)


def test_money_is_numeric_and_times_are_timestamptz_everywhere(migrated):
    """DESIGN.md: money is numeric, never float; times are timestamptz (UTC). Every table, new ones included."""
    rows = migrated.execute(
        """SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND a.attnum > 0
              AND NOT a.attisdropped AND c.relname NOT LIKE '%yoyo%'"""
    ).fetchall()
    wrong = [
        f"{t}.{c}: {kind}"
        for t, c, kind in rows
        if kind in ("timestamp without time zone", "double precision", "money")
        or (re.search(r"(^|_)(price|pct)$", c) and not kind.startswith("numeric"))
        or (re.search(r"_at$", c) and kind != "timestamp with time zone")
        or (kind == "real" and (t, c) != ("products", "discovery_score"))
    ]
    assert wrong == []


@dataclasses.dataclass(frozen=True)
class Unique:
    table: str
    columns: tuple[str, ...]
    where: str | None = None  # a partial index's predicate, as Postgres prints it
    why: str = ""


RELIED_ON = [
    Unique("products", ("website_id", "url"), why="discovery's upsert (ON CONFLICT) and one row per product URL"),
    Unique("websites", ("client_id", "domain"), why="a shop is registered once per client"),
    Unique("crawl_work", ("job_id",), why="a scheduled slot queued twice is one crawl"),
    Unique("crawl_work", ("website_id",), "(status = 'running'::text)", why="one crawl of a website at a time"),
    Unique("crawl_runs", ("job_id",), "(job_id IS NOT NULL)", why="one run per crawl job"),
    Unique("change_events", ("uid",), why="the stable delivery id receivers de-duplicate on"),
    Unique("webhook_secrets", ("client_id",), "(valid_until IS NULL)", why="one current secret per client"),
    Unique("product_statistics", ("product_id", "month"), why="monthly statistics are upserted"),
]
#: deleting a website (the API) deletes all of it: (child table, column) -> parent table
CASCADES = {
    ("products", "website_id"): "websites",
    ("crawl_runs", "website_id"): "websites",
    ("crawl_work", "website_id"): "websites",
    ("change_events", "website_id"): "websites",
    ("webhook_deliveries", "website_id"): "websites",
    ("webhook_deliveries", "event_id"): "change_events",
    ("observations", "product_id"): "products",
    ("product_statistics", "product_id"): "products",
    ("websites", "client_id"): "clients",
    ("api_keys", "client_id"): "clients",
    ("webhook_secrets", "client_id"): "clients",
}


def unique_indexes(conn) -> set[tuple[str, tuple[str, ...], str | None]]:
    rows = conn.execute(
        """SELECT t.relname, array_agg(a.attname ORDER BY k.ord), pg_get_expr(i.indpred, i.indrelid)
             FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
             CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
            WHERE i.indisunique AND n.nspname = 'public'
            GROUP BY i.indexrelid, t.relname, i.indpred, i.indrelid"""
    ).fetchall()
    return {(table, tuple(cols), where) for table, cols, where in rows}


def test_the_unique_indexes_the_code_relies_on_exist(migrated):
    present = unique_indexes(migrated)
    missing = [
        f"{u.table} ({', '.join(u.columns)}){' WHERE ' + u.where if u.where else ''}: {u.why}"
        for u in RELIED_ON
        if (u.table, u.columns, u.where) not in present
    ]
    assert missing == [], "unique indexes the code relies on are gone:\n  " + "\n  ".join(missing)


def test_deleting_a_website_or_client_cascades(migrated):
    rows = migrated.execute(
        """SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, c.confdeltype
             FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            WHERE c.contype = 'f' AND cardinality(c.conkey) = 1"""
    ).fetchall()
    cascading = {(child, column): parent for child, column, parent, action in rows if action == "c"}
    assert {key: cascading.get(key) for key in CASCADES} == CASCADES


def test_observations_are_partitioned_by_month_of_observed_at(migrated):
    strategy, column = migrated.execute(
        """SELECT p.partstrat, a.attname FROM pg_partitioned_table p
             JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
            WHERE p.partrelid = 'observations'::regclass"""
    ).fetchone()
    assert (strategy, column) == ("r", "observed_at")  # db/partitions.py makes one range per month
