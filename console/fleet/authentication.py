"""Agents authenticate with `Authorization: Node <token>`; user tokens never work here,
and node tokens never work on user endpoints (they are different schemes)."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission

from console.accounts import services as account_services
from console.accounts.models import AuthFailure
from console.audit.services import audit_record
from console.core import context
from console.fleet import services
from console.fleet.models import Node


@dataclass
class NodePrincipal:
    """The request.user of an agent call: a node, not a person."""

    node: Node
    is_authenticated: bool = True
    is_active: bool = True
    is_superuser: bool = False
    pk: None = None

    def get_username(self) -> str:
        return f"node:{self.node.name}"

    def __str__(self) -> str:
        return self.get_username()


class NodeTokenAuthentication(BaseAuthentication):
    keyword = "Node"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        ip = context.current().ip or "unknown"
        if not parts or parts[0].lower() != b"node" or len(parts) != 2:
            audit_record(
                action="agent.auth_missing",
                actor=None,
                object_type="agent",
                object_repr=request.path[:200],
                after={"ip": ip},
            )
            raise exceptions.NotAuthenticated("Agent calls need 'Authorization: Node <token>'.")
        key = parts[1].decode(errors="replace")
        token = services.node_token_authenticate(key=key)
        if token is not None:  # a valid node token always works, whatever others sent (S15)
            return (NodePrincipal(node=token.node), token)
        # Failures count in their own namespace, per (prefix, address) and per address:
        # bad user tokens never lock an agent out, nor bad node tokens a person.
        kind = AuthFailure.Kind.NODE_TOKEN
        identity = account_services.auth_token_identity(key=key, prefix=services.NODE_TOKEN_PREFIX)
        if account_services.auth_is_locked(kind=kind, identity=identity, ip=ip):
            raise exceptions.AuthenticationFailed(
                "Too many failed node token attempts from this address; try again later."
            )
        account_services.auth_failure_record(kind=kind, identity=identity, ip=ip)
        audit_record(
            action="agent.auth_failed",
            actor=None,
            object_type="agent",
            object_repr=request.path[:200],
            after={"ip": ip, "prefix": identity},
        )
        raise exceptions.AuthenticationFailed("Invalid or revoked node token.")

    def authenticate_header(self, request) -> str:
        return self.keyword


class IsNode(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, NodePrincipal)
