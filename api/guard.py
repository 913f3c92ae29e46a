"""Input no view can store or read, refused before any view runs, with a 400 in the API's one error shape.

- Text with NUL characters (Postgres text cannot hold them) or unpaired surrogates (they have no UTF-8),
  in the query string or anywhere in a JSON body.
- JSON bodies the parser cannot take: nested deeper than it recurses (``[[[[...``), or integers longer than
  Python converts (a 5,000-digit number).
"""

from __future__ import annotations

import json

from flask import Flask, request
from flask_smorest import abort


def _bad_text(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _bad_strings(data) -> list[str]:
    """Paths of the strings (keys or values) in ``data`` no view can take; iterative, so any depth."""
    found, stack = [], [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if _bad_text(value):
                found.append(path or "(body)")
        elif isinstance(value, dict):
            for key, item in value.items():
                name = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and _bad_text(key):
                    found.append(path or "(body)")
                stack.append((name, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return sorted(found)


MESSAGE = "Text may not contain NUL characters or unpaired surrogates"


def _refuse_bad_input():
    bad_args = sorted(
        {key for key, values in request.args.lists() if _bad_text(key) or any(_bad_text(v) for v in values)}
    )
    if bad_args:
        abort(400, message=MESSAGE, errors={"query": {key: [MESSAGE] for key in bad_args}})
    if request.method in ("POST", "PUT", "PATCH") and request.is_json:
        raw = request.get_data(cache=True)
        if not raw:
            return
        try:
            data = json.loads(raw)
        except RecursionError:
            abort(400, message="The JSON body is nested too deeply")
        except ValueError as exc:  # malformed, or an integer too long to convert
            abort(400, message=f"The body is not JSON the API can read: {str(exc)[:120]}")
        bad = _bad_strings(data)
        if bad:
            abort(400, message=MESSAGE, errors={"json": {path: [MESSAGE] for path in bad[:20]}})


def init_app(app: Flask) -> None:
    app.before_request(_refuse_bad_input)
