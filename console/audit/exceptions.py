"""The API's exception handler (settings REST_FRAMEWORK["EXCEPTION_HANDLER"]): the
services' errors (console.core.errors) as JSON, and every 403 audit-logged."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.utils import DataError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from console.audit.services import audit_record
from console.core.errors import FieldErrors, ServiceError


def exception_handler(exc, context):
    request = context.get("request")
    if isinstance(exc, FieldErrors):
        response = Response(exc.errors, status=exc.status)
    elif isinstance(exc, ServiceError):
        response = Response({"detail": exc.message, "code": exc.code}, status=exc.status)
    elif isinstance(exc, DataError) and "NUL" in str(exc):
        # PostgreSQL text cannot hold NUL: a parameter with one is bad input, not a 500.
        set_rollback()
        response = Response(
            {"detail": "Parameters must not contain NUL (0x00) bytes."},
            status=status.HTTP_400_BAD_REQUEST,
        )
    elif isinstance(exc, Http404):
        response = Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    else:
        if isinstance(exc, DjangoPermissionDenied):
            exc = exceptions.PermissionDenied(str(exc) or None)
        response = drf_exception_handler(exc, context)
    if response is not None and response.status_code == 403 and request is not None:
        user = getattr(request, "user", None)
        if getattr(user, "is_authenticated", False):
            audit_record(
                action="access.denied",
                actor=user,
                object_type="endpoint",
                object_id=request.method,
                object_repr=request.path[:200],
            )
    return response
