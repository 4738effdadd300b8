from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from console.accounts import services
from console.accounts.models import AuthFailure
from console.core import context


class ApiTokenAuthentication(BaseAuthentication):
    """`Authorization: Token <key>`; keys are stored hashed. Repeated bad keys from one
    address lock that address out for the lockout window (S11)."""

    keyword = "Token"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: expected 'Token <key>'.")
        try:
            key = parts[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token header.") from None
        ip = context.current().ip or "unknown"
        kind = AuthFailure.Kind.TOKEN
        if services.auth_is_locked(kind=kind, key=ip):
            raise exceptions.AuthenticationFailed(
                "Too many failed token attempts; try again later."
            )
        token = services.api_token_authenticate(key=key)
        if token is None:
            services.auth_failure_record(kind=kind, key=ip, ip=ip)
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return (token.user, token)

    def authenticate_header(self, request) -> str:
        return self.keyword
