"""A node's settings an admin changes: its power policy (power cap) and its power
model and prices."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from console.audit.services import audit_record
from console.core.errors import Forbidden, InvalidInput
from console.core.roles import Cap, has_cap
from console.core.types import Actor
from console.fleet.models import POWER_CAP_MAX_WATTS, POWER_CAP_MIN_WATTS, Node

POWER_FIELDS = ("power_cap_mode", "power_cap_watts")
PRICE_FIELDS = ("cpu_power_watts", "price_tier", "price_on_demand", "price_spot", "price_reserved")
NODE_SETTINGS_FIELDS = POWER_FIELDS + PRICE_FIELDS


def node_settings_allowed(actor: Actor) -> bool:
    """Power policy and prices: admins, and staff users allowed to change nodes."""
    if not getattr(actor, "is_authenticated", False):
        return False
    if has_cap(actor, Cap.ADMIN):
        return True
    return bool(getattr(actor, "is_staff", False) and actor.has_perm("fleet.change_node"))


def node_power_policy_check(*, mode: Any, watts: Any) -> None:
    """Raise InvalidInput unless (mode, watts) is a policy the agent can apply."""
    if mode not in Node.PowerCapMode.values:
        raise InvalidInput(f"power_cap_mode must be one of {', '.join(Node.PowerCapMode.values)}.")
    if watts is not None and (
        not isinstance(watts, int)
        or isinstance(watts, bool)
        or not POWER_CAP_MIN_WATTS <= watts <= POWER_CAP_MAX_WATTS
    ):
        raise InvalidInput(
            f"power_cap_watts must be a whole number of watts from {POWER_CAP_MIN_WATTS} "
            f"to {POWER_CAP_MAX_WATTS} (per GPU)."
        )
    if mode != Node.PowerCapMode.OFF and watts is None:
        label = Node.PowerCapMode(mode).label
        raise InvalidInput(f"Power cap mode {label!r} needs power_cap_watts (per GPU).")


def _price(name: str, value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        price = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"{name} must be a number.") from None
    if not price.is_finite() or price < 0 or price >= Decimal("1e8"):
        raise InvalidInput(f"{name} must be from 0 to 99999999.")
    return price.quantize(Decimal("0.0001"))


def _settings_clean(values: dict[str, Any]) -> dict[str, Any]:
    node_power_policy_check(mode=values["power_cap_mode"], watts=values["power_cap_watts"])
    if values["price_tier"] not in Node.PriceTier.values:
        raise InvalidInput(f"price_tier must be one of {', '.join(Node.PriceTier.values)}.")
    for name in ("price_on_demand", "price_spot", "price_reserved"):
        values[name] = _price(name, values[name])
    watts = values["cpu_power_watts"]
    if watts is not None:
        if not isinstance(watts, int | float) or isinstance(watts, bool):
            raise InvalidInput("cpu_power_watts must be a number of watts.")
        if not 0 <= watts <= 100_000:
            raise InvalidInput("cpu_power_watts must be from 0 to 100000 W.")
        values["cpu_power_watts"] = float(watts)
    return values


def node_settings_update(*, actor: Actor, node: Node, **changes: Any) -> Node:
    """Change a node's power policy (power_cap_mode, power_cap_watts) and power model
    and prices (cpu_power_watts, price_tier, price_*). Admins only; audit-logged as
    node.power_policy and node.pricing. The agent gets a new policy with its next
    heartbeat reply."""
    unknown = sorted(set(changes) - set(NODE_SETTINGS_FIELDS))
    if unknown:
        raise InvalidInput(f"Unknown node settings: {', '.join(unknown)}.")
    if not node_settings_allowed(actor):
        audit_record(
            action="node.settings_refused",
            actor=actor,
            obj=node,
            after={"fields": sorted(changes)},
        )
        raise Forbidden("Only an admin may change a node's power policy or prices.")
    with transaction.atomic():
        current = Node.objects.select_for_update().get(pk=node.pk)
        before = {name: getattr(current, name) for name in NODE_SETTINGS_FIELDS}
        values = _settings_clean({**before, **changes})
        changed = [name for name in NODE_SETTINGS_FIELDS if values[name] != before[name]]
        if changed:
            Node.objects.filter(pk=node.pk).update(**{name: values[name] for name in changed})
        for action, fields in (("node.power_policy", POWER_FIELDS), ("node.pricing", PRICE_FIELDS)):
            names = [name for name in fields if name in changed]
            if names:
                audit_record(
                    action=action,
                    actor=actor,
                    obj=current,
                    before={name: _jsonable(before[name]) for name in names},
                    after={name: _jsonable(values[name]) for name in names},
                )
    for name in NODE_SETTINGS_FIELDS:
        setattr(node, name, values[name])
    return node


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value
