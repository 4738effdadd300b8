from __future__ import annotations

import json

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from console.audit.auth import require_cap
from console.audit.selectors import audit_object_history
from console.core.errors import ServiceError
from console.core.roles import Cap, has_cap
from console.core.types import HtmxHttpRequest
from console.fleet import selectors, services
from console.fleet.models import Node


@require_cap(Cap.VIEW)
def fleet_list(request: HtmxHttpRequest) -> HttpResponse:
    nodes = list(selectors.node_list())
    context = {
        "nodes": nodes,
        "series": json.dumps(selectors.gpu_recent_samples(nodes=nodes, minutes=10)),
        "can_manage": has_cap(request.user, Cap.FLEET_MANAGE),
    }
    template = "fleet/list.html#nodes" if request.htmx else "fleet/list.html"
    return render(request, template, context)


@require_POST
@require_cap(Cap.FLEET_MANAGE)
def node_create(request: HtmxHttpRequest) -> HttpResponse:
    name = request.POST.get("name", "").strip()
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_slug

    try:
        validate_slug(name)
        issued = services.node_create(actor=request.user, name=name)
    except ValidationError:
        messages.error(request, "A node name uses letters, digits, - and _ only.")
        return redirect("fleet:list")
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("fleet:list")
    return _show_token(request, issued)


def _show_token(request: HtmxHttpRequest, issued: services.IssuedNodeToken) -> HttpResponse:
    node = selectors.node_get(name=issued.node.name)
    return render(
        request,
        "fleet/token.html",
        {"node": node, "key": issued.key, "console_url": request.build_absolute_uri("/")[:-1]},
    )


@require_cap(Cap.VIEW)
def node_detail(request: HtmxHttpRequest, name: str) -> HttpResponse:
    node = selectors.node_get(name=name)
    if node is None:
        raise Http404("No such node.")
    context = {
        "node": node,
        # Other projects' jobs show as "busy" only (RELIABILITY S16).
        "allocations": selectors.node_allocations(node=node, user=request.user),
        "series": json.dumps(selectors.gpu_recent_samples(nodes=[node], minutes=30)),
        "history": audit_object_history(object_type="fleet.node", object_id=str(node.pk))[:30],
        "can_manage": has_cap(request.user, Cap.FLEET_MANAGE),
        "can_edit_power": services.node_settings_allowed(request.user),
        "power_lines": selectors.node_power_report_lines(node),
        "power_model_watts": selectors.node_power_model_watts(node),
        "hourly_price": selectors.node_hourly_price(node, 1),
    }
    template = "fleet/node.html#status" if request.htmx else "fleet/node.html"
    return render(request, template, context)


@require_POST
@require_cap(Cap.FLEET_MANAGE)
def node_action(request: HtmxHttpRequest, name: str, action: str) -> HttpResponse:
    node = Node.objects.filter(name=name).first()
    if node is None:
        raise Http404("No such node.")
    if action == "token":
        return _show_token(request, services.node_token_issue(actor=request.user, node=node))
    if action == "revoke":
        count = services.node_token_revoke(actor=request.user, node=node)
        messages.success(
            request, f"Revoked {count} token(s) of {node.name}; its agent is locked out."
        )
    elif action in ("enable", "disable"):
        services.node_set_enabled(actor=request.user, node=node, enabled=action == "enable")
        messages.success(request, f"{node.name} {action}d.")
    else:
        raise Http404("No such action.")
    return redirect("fleet:node", name=node.name)
