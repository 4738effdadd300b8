from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from console.accounts import services
from console.accounts.models import AuthFailure
from console.core import context


class ApiTokenAuthentication(BaseAuthentication):
    """`Authorization: Token <key>`; keys are stored hashed.

    A valid key always authenticates. Failed keys count in the user-token namespace, per
    (key prefix, address) and per address; a locked guesser is refused without being
    recorded again. See the lockout section of console/accounts/services.py (S11, S15).
    """

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
        token = services.api_token_authenticate(key=key)
        if token is not None:
            return (token.user, token)
        ip = context.current().ip
        kind = AuthFailure.Kind.TOKEN
        identity = services.auth_token_identity(key=key, prefix=services.TOKEN_PREFIX)
        if services.auth_is_locked(kind=kind, identity=identity, ip=ip):
            raise exceptions.AuthenticationFailed(
                "Too many failed token attempts from this address; try again later."
            )
        services.auth_failure_record(kind=kind, identity=identity, ip=ip)
        raise exceptions.AuthenticationFailed("Invalid or revoked token.")

    def authenticate_header(self, request) -> str:
        return self.keyword
