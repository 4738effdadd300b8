from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from console.accounts import services
from console.accounts.models import AuthFailure
from console.core import context


class LockoutModelBackend(ModelBackend):
    """Username/password authentication with a lockout per (username, address).

    Used by the login page and the admin panel alike (S11). After repeated failures for
    one username from one address, that pair is refused, even with the right password,
    until the window passes; other accounts from that address and this account from
    other addresses are unaffected (S15). See console/accounts/services.py.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        kind, ip = AuthFailure.Kind.PASSWORD, context.current().ip
        if services.auth_is_locked(kind=kind, identity=username, ip=ip):
            raise PermissionDenied("Too many failed logins for this account from this address.")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            services.auth_failure_record(kind=kind, identity=username, ip=ip)
            return None
        services.auth_failures_clear(kind=kind, identity=username, ip=ip)
        return user
