"""Errors that services raise; the API turns them into 4xx JSON, pages into messages."""

from __future__ import annotations


class ServiceError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(ServiceError):
    status = 400
    code = "invalid"


class FieldErrors(InvalidInput):
    """Bad input, with messages per field (``errors``: field -> messages) for forms and
    the API. The API's exception handler answers it as a 400 with ``errors`` as the body,
    the shape DRF gives a serializer's errors; pages show each message by its field."""

    def __init__(self, errors: dict[str, list[str]], message: str = "") -> None:
        first = next((f"{k}: {v[0]}" for k, v in errors.items() if v), "invalid input")
        super().__init__(message or first)
        self.errors = errors


class Conflict(ServiceError):
    """The object is not in a state that allows this (e.g. cancelling a finished job)."""

    status = 409
    code = "conflict"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    status = 404
    code = "not_found"
