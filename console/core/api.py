"""REST plumbing shared by every app: pagination, error messages, the API's 404.

Errors as JSON (and 403s audit-logged) are console/audit/exceptions.py."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination

from console.core.redact import error_message


class ErrorMessageField(serializers.CharField):
    """A job's failure as its message: a traceback's last line, never the traceback
    (that stays on the job's log)."""

    def to_representation(self, value) -> str:
        return error_message(str(value or ""))


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


@csrf_exempt  # token clients send no CSRF token: a POST to a wrong URL is a 404, not a 403
def api_not_found(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    return JsonResponse({"detail": f"No API route {request.path}."}, status=404)
