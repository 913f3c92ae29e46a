"""Page-number pagination, flask-smorest's way (metadata in the X-Pagination header).

The header is a JSON object, flask-smorest's PaginationMetadataSchema (total, total_pages, first_page,
last_page, page, previous_page, next_page), documented as ``application/json`` content (api/openapi.py).
"""

PAGINATION = {"page": 1, "page_size": 50, "max_page_size": 100}
MAX_OFFSET = 2**63 - 1  # Postgres' OFFSET is a bigint; a page further than that is past the end of anything


def page(pagination_parameters, fetch):
    """One page: ``fetch(limit=, offset=)`` returns (rows, total); the total goes to the X-Pagination header."""
    size = pagination_parameters.page_size
    offset = (pagination_parameters.page - 1) * size
    if offset > MAX_OFFSET:
        _rows, total = fetch(limit=0, offset=0)
        rows = []
    else:
        rows, total = fetch(limit=size, offset=offset)
    pagination_parameters.item_count = total
    return rows
