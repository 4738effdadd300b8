from __future__ import annotations

import hashlib
import ipaddress
import secrets
import string
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import QuerySet

from console.accounts.models import ApiToken, AuthFailure
from console.audit.services import audit_record
from console.core.roles import Role
from console.core.types import Actor

TOKEN_PREFIX = "fg_"
TOKEN_PREFIX_LENGTH = 10  # the visible part of a key kept on its row (user and node tokens)


def token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    key: str  # shown once, never stored


@transaction.atomic
def api_token_create(*, user: User, name: str, actor: Actor | None = None) -> IssuedToken:
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=key[:TOKEN_PREFIX_LENGTH], key_hash=token_hash(key)
    )
    audit_record(
        action="token.create",
        actor=actor or user,
        obj=token,
        after={"user": user.get_username(), "name": name, "prefix": token.prefix},
    )
    return IssuedToken(token=token, key=key)


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: Actor) -> ApiToken:
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if updated:
        audit_record(
            action="token.revoke",
            actor=actor,
            obj=token,
            before={"active": True},
            after={"active": False},
        )
    token.refresh_from_db()
    return token


def api_token_authenticate(*, key: str) -> ApiToken | None:
    """The active token with this key, its last use stamped (at most once a minute)."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=token_hash(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


# ------------------------------------------------------------------ lockout (S11, S15)
#
# Who is locked, and what a lock refuses (issue 14: lockout must not be a denial of service).
#
# - Three namespaces (AuthFailure.Kind): passwords, user tokens, node tokens. Failures in
#   one never count towards another: a fuzzer's bad user tokens cannot take a node offline.
# - Pair bucket: FORGE_LOCKOUT_FAILURES failures for one credential identity (the username
#   typed, or a token's visible prefix) from one address within the window lock that
#   (identity, address) pair. The same identity from another address, and every other
#   identity from this address, are not affected.
# - Address bucket (tokens only): FORGE_LOCKOUT_ADDRESS_FAILURES failed tokens of any
#   identity from one address lock that address for failing tokens, so a guesser cycling
#   random keys is locked too.
# - A valid token always authenticates, locked or not: the authentication classes try the
#   key first and consult the lockout only when it fails. A token holds 256 random bits,
#   so a right key never comes from guessing; the lock bounds what a guesser can cost us
#   (rows, audit events) and tells it to stop, and can never lock out a colleague or an
#   agent behind the same address (S15).
# - A password is checked only when its (username, address) pair is not locked, so a
#   locked pair refuses even the right password: otherwise the lock would not stop
#   guessing a weak password. Other accounts from that address, and this account from any
#   other address, still log in. There is deliberately no address-wide password lock: it
#   would refuse colleagues' valid passwords behind a shared address, and guesses at
#   usernames that do not exist cannot succeed. Unknown usernames get pair buckets like
#   real ones, so the lockout does not tell which usernames exist.
# - Addresses are the client's (console.core.context.client_ip: REMOTE_ADDR, or
#   X-Forwarded-For only from FORGE_TRUSTED_PROXIES); an IPv6 client counts as its /64.
# - Once a bucket is locked, further failures are refused without being recorded, so an
#   attacker writes at most a threshold's worth of rows per bucket per window.

_ADDRESS_BUCKET_KINDS = {AuthFailure.Kind.TOKEN, AuthFailure.Kind.NODE_TOKEN}
_TOKEN_PREFIX_CHARS = frozenset(string.ascii_letters + string.digits + "-_")


def auth_lockout_address(ip: str) -> str:
    """The address a failure is counted under: the client's, or an IPv6 client's /64
    (one host commonly holds a whole /64, and could otherwise hop between addresses)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return (ip or "unknown")[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def auth_token_identity(*, key: str, prefix: str) -> str:
    """The identity a failed token is counted under: its visible prefix (what the token
    list shows) when the key is well formed for its namespace, else "" (address only)."""
    head = key[:TOKEN_PREFIX_LENGTH]
    well_formed = len(head) == TOKEN_PREFIX_LENGTH and set(head) <= _TOKEN_PREFIX_CHARS
    return head if well_formed and head.startswith(prefix) else ""


def _identity(kind: str, identity: str) -> str:
    return identity.strip().lower()[:200] if kind == AuthFailure.Kind.PASSWORD else identity[:200]


def _username_exists(username: str) -> bool:
    User = get_user_model()
    return User.objects.filter(**{f"{User.USERNAME_FIELD}__iexact": username}).exists()


def _recent(kind: str, address: str) -> QuerySet[AuthFailure]:
    since = timezone.now() - timedelta(seconds=settings.FORGE_LOCKOUT_WINDOW_SECONDS)
    return AuthFailure.objects.filter(kind=kind, address=address, created_at__gte=since)


def _locked_scope(kind: str, identity: str, address: str) -> str | None:
    recent = _recent(kind, address)
    if identity and recent.filter(key=identity).count() >= settings.FORGE_LOCKOUT_FAILURES:
        return "credential"
    if kind not in _ADDRESS_BUCKET_KINDS:
        return None
    return "address" if recent.count() >= settings.FORGE_LOCKOUT_ADDRESS_FAILURES else None


def auth_is_locked(*, kind: str, identity: str, ip: str) -> bool:
    """Is a failing attempt at `identity` from `ip` locked out? (Tokens: ask only after
    the key failed; passwords: before checking the password.)"""
    return _locked_scope(kind, _identity(kind, identity), auth_lockout_address(ip)) is not None


def auth_failure_record(*, kind: str, identity: str, ip: str) -> bool:
    """Record a failed attempt (with an audit event); True when this failure locks a bucket."""
    identity, address = _identity(kind, identity), auth_lockout_address(ip)
    since = timezone.now() - timedelta(seconds=settings.FORGE_LOCKOUT_WINDOW_SECONDS)
    AuthFailure.objects.filter(kind=kind, address=address, created_at__lt=since).delete()
    AuthFailure.objects.create(kind=kind, key=identity, address=address)
    scope = _locked_scope(kind, identity, address)
    shown = identity
    if kind == AuthFailure.Kind.PASSWORD and not _username_exists(identity):
        shown = ""  # what was typed may be a password: the audit log keeps it forever
    audit_record(
        action=f"auth.{kind}_lockout" if scope else f"auth.{kind}_failed",
        actor=None,
        object_type="auth",
        object_id=(shown or address)[:64],
        after={"ip": ip, "identity": shown, "address": address, "locked": scope or ""},
    )
    return scope is not None


def auth_failures_clear(*, kind: str, identity: str, ip: str) -> None:
    """A successful login forgets that pair's earlier failures (a user's own typos)."""
    AuthFailure.objects.filter(
        kind=kind, key=_identity(kind, identity), address=auth_lockout_address(ip)
    ).delete()


# ------------------------------------------------------------------ users and roles


def roles_ensure() -> None:
    """Create the role groups (idempotent); also run by a data migration."""
    for role in Role:
        Group.objects.get_or_create(name=role.value)


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str | None,
    roles: list[Role],
    actor: Actor | None = None,
    email: str = "",
) -> User:
    user = get_user_model().objects.create_user(username=username, password=password, email=email)
    for role in roles:
        group, _ = Group.objects.get_or_create(name=role.value)
        user.groups.add(group)
    audit_record(
        action="user.create",
        actor=actor,
        obj=user,
        after={"username": username, "roles": [r.value for r in roles]},
    )
    return user


@dataclass(frozen=True)
class AdminAccount:
    user: object
    password: str | None  # set only when generated now, to be printed once


@transaction.atomic
def admin_ensure(*, password: str | None) -> AdminAccount:
    """Create the `admin` superuser if missing. With no password given, generate one."""
    User = get_user_model()
    user = User.objects.filter(username="admin").first()
    if user is not None:
        if password:
            user.set_password(password)
            user.save(update_fields=["password"])
        return AdminAccount(user=user, password=None)
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(12)
    user = User.objects.create_superuser(username="admin", password=password, email="")
    group, _ = Group.objects.get_or_create(name=Role.ADMIN.value)
    user.groups.add(group)
    audit_record(
        action="user.create", actor=None, obj=user, after={"username": "admin", "roles": ["admin"]}
    )
    return AdminAccount(user=user, password=generated)
