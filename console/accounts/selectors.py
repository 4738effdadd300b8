from __future__ import annotations

from django.db.models import QuerySet

from console.accounts.models import ApiToken


def api_token_list(*, user) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)
