"""Types shared by the apps, for annotations only.

`Actor` is who asks a service for a change: the request's user, as both Django's
and DRF's requests type it. Services check the actor's capabilities themselves,
so an anonymous actor is refused there, not by its type. `HtmxHttpRequest` is
the request django-htmx's middleware has given `request.htmx`."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

Actor: TypeAlias = "User | AnonymousUser"


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
