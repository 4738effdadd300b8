from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from console.accounts import services
from console.accounts.models import AuthFailure
from console.core import context


class LockoutModelBackend(ModelBackend):
    """Username/password authentication that locks an account after repeated failures.

    Used by the login page and the admin panel alike (S11). A locked account is
    refused even with the right password until the window passes.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        kind = AuthFailure.Kind.PASSWORD
        if services.auth_is_locked(kind=kind, key=username):
            raise PermissionDenied("Account temporarily locked after repeated failed logins.")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            services.auth_failure_record(kind=kind, key=username, ip=context.current().ip)
            return None
        services.auth_failures_clear(kind=kind, key=username)
        return user
