"""Products: discovered candidates, approval, and their latest observed state."""

from __future__ import annotations

MAX_APPROVED = 100
PUBLIC_COLUMNS = """p.id, p.website_id, p.url, p.name, p.price, p.currency, p.availability, p.sku, p.gtin, p.brand,
    p.image, p.status, p.discovery_score AS score, p.last_observed_at, p.last_ok_at, p.last_changed_at, p.sources,
    p.list_price, COALESCE(p.offers, '[]'::jsonb) AS offers"""


def candidates(conn, website_id: int, *, limit: int, offset: int) -> tuple[list[dict], int]:
    where = "p.website_id = %s AND p.status IN ('discovered', 'approved')"
    total = conn.execute(f"SELECT count(*) AS n FROM products p WHERE {where}", (website_id,)).fetchone()["n"]
    rows = conn.execute(
        f"""SELECT {PUBLIC_COLUMNS} FROM products p WHERE {where}
             ORDER BY p.discovery_score DESC NULLS LAST, p.id LIMIT %s OFFSET %s""",
        (website_id, limit, offset),
    ).fetchall()
    return rows, total


class ApprovalError(ValueError):
    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.errors = errors or {}


def has_approved(conn, website_id: int) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM products WHERE website_id = %s AND status = 'approved' LIMIT 1", (website_id,)
        ).fetchone()
        is not None
    )


def approve(conn, website_id: int, product_ids: list[int]) -> tuple[list[int], int]:
    """Approve candidates of one website, all or nothing; returns (newly approved ids, total approved).

    Call inside a transaction that holds the website row lock.
    """
    wanted = sorted(set(product_ids))
    rows = conn.execute(
        "SELECT id, status FROM products WHERE website_id = %s AND id = ANY(%s) FOR UPDATE",
        (website_id, wanted),
    ).fetchall()
    found = {r["id"]: r["status"] for r in rows}
    unknown = [i for i in wanted if i not in found or found[i] == "removed"]
    if unknown:
        raise ApprovalError(
            f"{len(unknown)} product id(s) are not candidates of this website",
            {"product_ids": [f"not a candidate of this website: {i}" for i in unknown]},
        )
    new = [i for i in wanted if found[i] == "discovered"]
    already = conn.execute(
        "SELECT count(*) AS n FROM products WHERE website_id = %s AND status = 'approved'", (website_id,)
    ).fetchone()["n"]
    if already + len(new) > MAX_APPROVED:
        raise ApprovalError(
            f"at most {MAX_APPROVED} products may be approved per website: {already} already are, "
            f"{len(new)} more would make {already + len(new)}",
            {"product_ids": [f"too many: {MAX_APPROVED - already} more can be approved"]},
        )
    if new:
        conn.execute(
            "UPDATE products SET status = 'approved', approved_at = now(), updated_at = now() WHERE id = ANY(%s)",
            (new,),
        )
    return new, already + len(new)


SORT_COLUMNS = {"name": "p.name", "price": "p.price", "last_change": "p.last_changed_at", "id": "p.id"}


def page_for_client(
    conn,
    client_id: int,
    *,
    website_id: int | None,
    availability: str | None,
    limit: int,
    offset: int,
    search: str | None = None,
    sort: str = "id",
) -> tuple[list[dict], int]:
    where = ["w.client_id = %s", "p.status = 'approved'"]
    params: list = [client_id]
    if website_id is not None:
        where.append("p.website_id = %s")
        params.append(website_id)
    if availability:
        where.append("p.availability = %s")
        params.append(availability)
    if search:
        where.append("p.name ILIKE %s")
        params.append("%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    clause = " AND ".join(where)
    column = SORT_COLUMNS[sort.lstrip("-")]
    direction = "DESC NULLS LAST" if sort.startswith("-") else "ASC NULLS LAST"
    base = f"FROM products p JOIN websites w ON w.id = p.website_id WHERE {clause}"
    total = conn.execute(f"SELECT count(*) AS n {base}", params).fetchone()["n"]
    rows = conn.execute(
        f"SELECT {PUBLIC_COLUMNS} {base} ORDER BY {column} {direction}, p.id LIMIT %s OFFSET %s",
        [*params, limit, offset],
    ).fetchall()
    return rows, total


def get_for_client(conn, product_id: int, client_id: int) -> dict | None:
    return conn.execute(
        f"""SELECT {PUBLIC_COLUMNS} FROM products p JOIN websites w ON w.id = p.website_id
             WHERE p.id = %s AND w.client_id = %s AND p.status = 'approved'""",
        (product_id, client_id),
    ).fetchone()
