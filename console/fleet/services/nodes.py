"""Nodes and their tokens: create, issue, revoke, enable/disable, and the
token check of the agents' API.

The actor that creates a node or issues its token is a user, None, or the name of the
command that asks (``manage.py node_token``, ``make run``), which the audit event names."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, cast

from django.db import transaction
from django.utils import timezone

from console.audit.services import audit_record
from console.core.errors import Conflict
from console.core.types import Actor
from console.fleet.models import Node, NodeToken

if TYPE_CHECKING:
    from django.contrib.auth.models import User

NODE_TOKEN_PREFIX = "fn_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedNodeToken:
    node: Node
    token: NodeToken
    key: str  # shown once


@transaction.atomic
def node_create(*, actor: Actor | str | None, name: str) -> IssuedNodeToken:
    if Node.objects.filter(name=name).exists():
        raise Conflict(f"A node named {name!r} already exists.")
    node = Node.objects.create(name=name)
    audit_record(action="node.create", actor=actor, obj=node, after={"name": name})
    return node_token_issue(actor=actor, node=node)


@transaction.atomic
def node_token_issue(
    *, actor: Actor | str | None, node: Node, revoke_others: bool = True
) -> IssuedNodeToken:
    """A new token for the node; by default the node's older tokens stop working."""
    if revoke_others:
        node.tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    key = NODE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    user = cast("User | None", actor if getattr(actor, "is_authenticated", False) else None)
    token = NodeToken.objects.create(
        node=node, prefix=key[:10], key_hash=_hash(key), created_by=user
    )
    audit_record(action="node.token_issue", actor=actor, obj=node, after={"prefix": token.prefix})
    return IssuedNodeToken(node=node, token=token, key=key)


@transaction.atomic
def node_token_revoke(*, actor: Actor | None, node: Node) -> int:
    count = node.tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    audit_record(action="node.token_revoke", actor=actor, obj=node, after={"revoked": count})
    return count


@transaction.atomic
def node_set_enabled(*, actor: Actor | None, node: Node, enabled: bool) -> Node:
    if node.enabled != enabled:
        Node.objects.filter(pk=node.pk).update(enabled=enabled)
        audit_record(
            action="node.enable" if enabled else "node.disable",
            actor=actor,
            obj=node,
            before={"enabled": node.enabled},
            after={"enabled": enabled},
        )
        node.enabled = enabled
    return node


def node_token_authenticate(*, key: str) -> NodeToken | None:
    token = NodeToken.objects.select_related("node").filter(key_hash=_hash(key)).first()
    if token is None or token.revoked_at is not None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        NodeToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
