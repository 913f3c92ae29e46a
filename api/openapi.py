"""The OpenAPI document says what the API does, where apispec's and flask-smorest's defaults would not.

- A Decimal dumped as a string (``"12.34"``: money, percentages) is documented as a string of that form, not
  as a number; a Decimal's bounds are numbers, never the strings its own serializer would make of them.
- :class:`DecimalNumber` is a Decimal input that takes a JSON number, or the same value written as a plain
  decimal string (what the API itself returns), and is documented as exactly that.
- ``X-Pagination`` is a JSON object in a header: it is documented as ``content: application/json`` with
  flask-smorest's PaginationMetadata schema (a header ``schema`` of type object would mean the ``k,v,k,v``
  form of OpenAPI's ``simple`` style, which is not what is sent).

The document is checked by a validator and fuzzed with schemathesis in tests/api/test_openapi.py.
"""

from __future__ import annotations

import decimal
import re

import marshmallow as ma
from flask_smorest.pagination import PaginationMetadataSchema

DECIMAL_TEXT = r"^-?[0-9]+(\.[0-9]+)?$"  # what a Decimal dumped as a string looks like (format "f")

PAGINATION_HEADER = {
    "description": "Pagination metadata, a JSON object: total, total_pages, first_page, last_page, page, "
    "previous_page, next_page (the page fields are left out when the page is past the end, "
    "or there is no such page)",
    "content": {"application/json": {"schema": PaginationMetadataSchema}},
}


def _number(value):
    """A bound as a JSON number (the serializer of a Decimal field would have made it a Decimal or a string)."""
    value = decimal.Decimal(str(value))
    return int(value) if value == value.to_integral_value() else float(value)


class DecimalNumber(ma.fields.Decimal):
    """A Decimal input: a JSON number, or a decimal string matching ``text_pattern`` (default: any plain
    decimal). Range validators hold for the value sent, before it is rounded to ``places``."""

    def __init__(self, *args, text_pattern: str = DECIMAL_TEXT, **kwargs):
        super().__init__(*args, **kwargs)
        self.text_pattern = text_pattern
        self._text = re.compile(text_pattern)

    def _validated(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float, str, decimal.Decimal)):
            raise self.make_error("invalid")
        if isinstance(value, str) and not self._text.fullmatch(value):
            raise self.make_error("invalid")
        sent = super()._validated(value) if self.places is None else self._unrounded(value)
        for validator in self.validators:
            if isinstance(validator, ma.validate.Range):
                validator(sent)  # 100.0004 is over 100 even if it would round to 100.000
        return super()._validated(value)

    def _unrounded(self, value):
        try:
            sent = decimal.Decimal(str(value))
        except (decimal.InvalidOperation, ValueError, TypeError):
            raise self.make_error("invalid") from None
        if not sent.is_finite():
            raise self.make_error("special")
        return sent


def decimal2properties(self, field, ret, **_kwargs) -> dict:
    """apispec attribute function: Decimal fields as they are sent and received."""
    if not isinstance(field, ma.fields.Decimal):
        return {}
    bounds = {name: _number(ret.pop(name)) for name in ("minimum", "maximum", "x-minimum", "x-maximum") if name in ret}
    bounds = {name.removeprefix("x-"): value for name, value in bounds.items()}
    if isinstance(field, DecimalNumber):
        ret.pop("type", None)
        return {"anyOf": [{"type": "number", **bounds}, {"type": "string", "pattern": field.text_pattern}]}
    if field.as_string:
        # a string: its bounds cannot be a JSON Schema minimum/maximum, so they are an extension
        return {
            "type": "string",
            "format": "decimal",
            "pattern": DECIMAL_TEXT,
            **{f"x-{name}": value for name, value in bounds.items()},
        }
    return bounds


def init_spec(api) -> None:
    """Hook the above into flask-smorest's Api (after its spec is made, before blueprints are registered)."""
    api.ma_plugin.converter.add_attribute_function(decimal2properties)
