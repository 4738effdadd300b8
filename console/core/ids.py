"""Row ids as they arrive from outside: in a URL path or in a query parameter.

Every primary key is a 64-bit integer (BigAutoField), so an id is a whole number from 1
to 2**63 - 1. Anything else names no row. Letting a bigger number through reaches the
database driver, which cannot bind it (SQLite raises OverflowError: a 500), so ids are
checked where they enter:

- paths use ``<id:name>`` (``IdConverter``, registered in ``CoreConfig.ready``): an id out
  of range does not match the route, so the answer is a 404 before any view runs;
- query parameters go through ``parse_id`` (pages) or ``id_query_param`` (API: a 400
  naming the parameter).
"""

from __future__ import annotations

import re

MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII only: str.isdigit() also accepts "²"


class InvalidId(ValueError):
    pass


def parse_id(raw: str | None) -> int:
    """The id written in ``raw`` (ASCII digits, 1 to 2**63 - 1), else InvalidId."""
    if raw is None or not _DIGITS.fullmatch(raw):
        raise InvalidId(f"not an id: {raw!r:.40}")
    value = int(raw)
    if not 1 <= value <= MAX_ID:
        raise InvalidId(f"not an id: {raw!r:.40}")
    return value


def parse_optional_id(raw: str | None) -> int | None:
    """None for a missing or empty parameter, else as ``parse_id``."""
    return None if raw in (None, "") else parse_id(raw)


class IdConverter:
    """``<id:name>`` in a route: matches only ids from 1 to 2**63 - 1 (a ValueError
    from ``to_python`` tells the resolver the route does not match: a 404)."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        return parse_id(value)

    def to_url(self, value: int | str) -> str:
        return str(parse_id(str(value)))


def id_query_param(request, name: str) -> int | None:
    """A DRF request's optional id parameter: None when absent or empty, a 400 naming
    the parameter when it is not an id."""
    from rest_framework import serializers

    try:
        return parse_optional_id(request.query_params.get(name))
    except InvalidId:
        raise serializers.ValidationError(
            {name: [f"Must be an id: a whole number from 1 to {MAX_ID}."]}
        ) from None
