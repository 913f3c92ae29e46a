"""Page-number pagination, flask-smorest's way (metadata in the X-Pagination header)."""

PAGINATION = {"page": 1, "page_size": 50, "max_page_size": 100}


def page_args(pagination_parameters) -> tuple[int, int]:
    """(limit, offset) of flask-smorest's pagination parameters."""
    size = pagination_parameters.page_size
    return size, (pagination_parameters.page - 1) * size
