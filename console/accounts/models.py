from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 is stored; the key is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=12, help_text="First characters of the key, to recognise it."
    )
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuthFailure(models.Model):
    """One failed password or token attempt; recent ones decide a lockout (S11, S15).

    Counted per namespace (`kind`) in two buckets: the credential's identity with the
    address it came from (`key`, `address`), and the address alone.
    """

    class Kind(models.TextChoices):
        PASSWORD = "password"
        TOKEN = "token", "User token"
        NODE_TOKEN = "node_token", "Node token"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    key = models.CharField(
        max_length=200,
        blank=True,
        help_text="The credential's identity: the username typed (lower case), or a token's "
        "prefix; empty for a token that has no well-formed prefix.",
    )
    address = models.CharField(
        max_length=64,
        help_text="The client's address (an IPv6 client's /64 network), as the lockout counts it.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["kind", "key", "address", "created_at"], name="authfail_pair_idx"),
            models.Index(fields=["kind", "address", "created_at"], name="authfail_address_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}@{self.address}"
