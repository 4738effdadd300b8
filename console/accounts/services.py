from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from console.accounts.models import ApiToken, AuthFailure
from console.accounts.roles import Role
from console.audit.services import audit_record

TOKEN_PREFIX = "fg_"


def token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    key: str  # shown once, never stored


@transaction.atomic
def api_token_create(*, user, name: str, actor=None) -> IssuedToken:
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=key[:10], key_hash=token_hash(key))
    audit_record(
        action="token.create",
        actor=actor or user,
        obj=token,
        after={"user": user.get_username(), "name": name, "prefix": token.prefix},
    )
    return IssuedToken(token=token, key=key)


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor) -> ApiToken:
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


# ------------------------------------------------------------------ lockout (S11)


def _window_start():
    return timezone.now() - timedelta(seconds=settings.FORGE_LOCKOUT_WINDOW_SECONDS)


def auth_is_locked(*, kind: str, key: str) -> bool:
    recent = AuthFailure.objects.filter(kind=kind, key=key.lower(), created_at__gte=_window_start())
    return recent.count() >= settings.FORGE_LOCKOUT_FAILURES


def auth_failure_record(*, kind: str, key: str, ip: str = "") -> bool:
    """Record a failed attempt; returns True when this failure locks the key."""
    AuthFailure.objects.create(kind=kind, key=key.lower()[:200], ip=ip)
    locked = auth_is_locked(kind=kind, key=key)
    if locked:
        audit_record(
            action=f"auth.{kind}_lockout",
            actor=None,
            object_type="auth",
            object_id=key.lower()[:64],
            after={"ip": ip},
        )
    else:
        audit_record(
            action=f"auth.{kind}_failed",
            actor=None,
            object_type="auth",
            object_id=key.lower()[:64],
            after={"ip": ip},
        )
    return locked


def auth_failures_clear(*, kind: str, key: str) -> None:
    AuthFailure.objects.filter(kind=kind, key=key.lower()).delete()


# ------------------------------------------------------------------ users and roles


def roles_ensure() -> None:
    """Create the role groups (idempotent); also run by a data migration."""
    for role in Role:
        Group.objects.get_or_create(name=role.value)


@transaction.atomic
def user_create(
    *, username: str, password: str | None, roles: list[Role], actor=None, email: str = ""
):
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
