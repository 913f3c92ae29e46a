"""Page-number pagination, flask-smorest's way (metadata in the X-Pagination header).

The header is a JSON object, flask-smorest's PaginationMetadataSchema (total, total_pages, first_page,
last_page, page, previous_page, next_page), documented as ``application/json`` content (api/openapi.py).
"""

PAGINATION = {"page": 1, "page_size": 50, "max_page_size": 100}


def page(pagination_parameters, fetch):
    """One page: ``fetch(limit=, offset=)`` returns (rows, total); the total goes to the X-Pagination header."""
    size = pagination_parameters.page_size
    rows, total = fetch(limit=size, offset=(pagination_parameters.page - 1) * size)
    pagination_parameters.item_count = total
    return rows
