"""Node power model, prices and power policy on the console side: selectors, the
admin-only service (API and admin panel), the heartbeat that carries the policy to
the agent and brings its report back, and the pages that show it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from console.audit.models import AuditEvent
from console.core.errors import Forbidden, InvalidInput
from console.fleet import selectors, services
from console.fleet.models import Node

pytestmark = pytest.mark.django_db

DRY_RUN_REPORT = {
    "mode": "dry_run",
    "watts": 500,
    "error": "",
    "gpus": {
        "0": {
            "current_limit_w": 700.0,
            "previous_limit_w": 700.0,
            "default_limit_w": 700.0,
            "min_w": 200.0,
            "max_w": 700.0,
            "target_w": 500.0,
            "action": "would_set",
            "error": "",
        },
        "1": {"action": "error", "error": "NVML: Insufficient Permissions"},
    },
}


# ------------------------------------------------------------------ selectors


def test_prices_fall_back_to_the_gpu_hour_price_setting(settings):
    settings.FORGE_GPU_HOUR_PRICE = 3.25
    node = Node.objects.create(name="n1")
    assert selectors.node_price_tier(node) == "on_demand"
    assert selectors.node_hourly_price(node, 0) == Decimal("3.25")  # per node-hour
    assert selectors.node_hourly_price(node, 4) == Decimal("13.00")
    node.price_tier = Node.PriceTier.SPOT
    node.price_spot = Decimal("1.1000")
    node.price_on_demand = Decimal("9")
    assert selectors.node_hourly_price(node, 2) == Decimal("2.2")
    node.price_tier = Node.PriceTier.RESERVED  # no reserved price: the setting
    assert selectors.node_hourly_price(node, 1) == Decimal("3.25")


def test_power_model_falls_back_to_the_cpu_node_watts_setting(settings):
    node = Node.objects.create(name="n1")
    assert selectors.node_power_model_watts(node) == 200.0  # the default, no setting
    settings.FORGE_CPU_NODE_WATTS = 350.0
    assert selectors.node_power_model_watts(node) == 350.0
    node.cpu_power_watts = 120.0
    assert selectors.node_power_model_watts(node) == 120.0


def test_report_lines_say_what_the_agent_did():
    node = Node(name="n1", power_cap_report=DRY_RUN_REPORT)
    assert selectors.node_power_report_lines(node) == [
        "dry run: would set GPU 0 from 700 W to 500 W",
        "dry run: GPU 1: NVML: Insufficient Permissions",
    ]
    assert selectors.node_power_report_lines(Node(name="n2")) == []


# ------------------------------------------------------------------ the service


def test_only_an_admin_changes_the_power_policy(personas):
    node = Node.objects.create(name="n1")
    for user in (personas.viewer, personas.ml_engineer, personas.reviewer, personas.outsider):
        with pytest.raises(Forbidden):
            services.node_settings_update(
                actor=user, node=node, power_cap_mode="enforce", power_cap_watts=500
            )
    node.refresh_from_db()
    assert node.power_cap_mode == "off" and node.power_cap_watts is None
    assert AuditEvent.objects.filter(action="node.settings_refused").count() == 4

    services.node_settings_update(
        actor=personas.admin, node=node, power_cap_mode="dry_run", power_cap_watts=500
    )
    node.refresh_from_db()
    assert (node.power_cap_mode, node.power_cap_watts) == ("dry_run", 500)
    event = AuditEvent.objects.get(action="node.power_policy")
    assert event.before == {"power_cap_mode": "off", "power_cap_watts": None}
    assert event.after == {"power_cap_mode": "dry_run", "power_cap_watts": 500}
    assert not AuditEvent.objects.filter(action="node.pricing").exists()


def test_staff_with_the_change_permission_may_change_it(db):
    from django.contrib.auth.models import Permission

    staff = get_user_model().objects.create_user("stu_staff", is_staff=True)
    node = Node.objects.create(name="n1")
    with pytest.raises(Forbidden):
        services.node_settings_update(actor=staff, node=node, power_cap_watts=400)
    staff.user_permissions.add(Permission.objects.get(codename="change_node"))
    staff = get_user_model().objects.get(pk=staff.pk)  # fresh permission cache
    services.node_settings_update(actor=staff, node=node, power_cap_watts=400)
    assert Node.objects.get(pk=node.pk).power_cap_watts == 400


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"power_cap_mode": "enforce"}, "needs power_cap_watts"),
        ({"power_cap_mode": "dry_run"}, "needs power_cap_watts"),
        ({"power_cap_mode": "enforce", "power_cap_watts": 49}, "from 50 to 2000"),
        ({"power_cap_mode": "enforce", "power_cap_watts": 2001}, "from 50 to 2000"),
        ({"power_cap_mode": "turbo", "power_cap_watts": 500}, "must be one of"),
        ({"price_tier": "free"}, "price_tier"),
        ({"price_spot": -1}, "price_spot"),
        ({"cpu_power_watts": -3.0}, "cpu_power_watts"),
        ({"hostname": "x"}, "Unknown node settings"),
    ],
)
def test_invalid_settings_are_refused_with_a_clear_message(personas, changes, message):
    node = Node.objects.create(name="n1")
    with pytest.raises(InvalidInput, match=message):
        services.node_settings_update(actor=personas.admin, node=node, **changes)
    node.refresh_from_db()
    assert node.power_cap_mode == "off" and node.price_tier == "on_demand"
    assert not AuditEvent.objects.filter(action__in=["node.power_policy", "node.pricing"]).exists()


def test_pricing_change_is_audited(personas):
    node = Node.objects.create(name="n1")
    services.node_settings_update(
        actor=personas.admin, node=node, price_tier="spot", price_spot=Decimal("0.9")
    )
    event = AuditEvent.objects.get(action="node.pricing")
    assert event.after == {"price_tier": "spot", "price_spot": "0.9000"}
    assert selectors.node_hourly_price(Node.objects.get(pk=node.pk), 8) == Decimal("7.2")


# ------------------------------------------------------------------ the API


def test_api_shows_power_and_price_to_everyone_and_lets_only_admins_patch(personas, api):
    Node.objects.create(name="n1")
    shown = api(personas.viewer).get("/api/v1/nodes/n1/").json()
    assert shown["power_cap_mode"] == "off" and shown["price_tier"] == "on_demand"
    assert shown["power_model_watts"] == 200.0 and shown["hourly_price"] == "2.5"
    body = {"power_cap_mode": "enforce", "power_cap_watts": 450}
    for user in (personas.viewer, personas.ml_engineer, personas.reviewer):
        assert api(user).patch("/api/v1/nodes/n1/", body, format="json").status_code == 403
    assert api(personas.outsider).patch("/api/v1/nodes/n1/", body, format="json").status_code == 403
    response = api(personas.admin).patch("/api/v1/nodes/n1/", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["power_cap_mode"] == "enforce"
    assert response.json()["power_cap_watts"] == 450
    bad = api(personas.admin).patch(
        "/api/v1/nodes/n1/", {"power_cap_mode": "off", "power_cap_watts": 10}, format="json"
    )
    assert bad.status_code == 400
    off_without_cap = api(personas.admin).patch(
        "/api/v1/nodes/n1/", {"power_cap_mode": "dry_run", "power_cap_watts": None}, format="json"
    )
    assert off_without_cap.status_code == 400
    assert "needs power_cap_watts" in off_without_cap.json()["detail"]


# ------------------------------------------------------------------ heartbeat


def test_heartbeat_reply_carries_the_policy_and_the_report_is_stored(personas, make_node):
    node, agent = make_node("gpu-p", gpus=2)
    reply = agent.post("/api/agent/v1/heartbeat", {"running": []}, format="json").json()
    assert reply["power"] == {"mode": "off", "watts": None}
    assert reply["status"] == "online" and reply["stop"] == []

    services.node_settings_update(
        actor=personas.admin, node=node, power_cap_mode="dry_run", power_cap_watts=500
    )
    reply = agent.post(
        "/api/agent/v1/heartbeat", {"running": [], "power": DRY_RUN_REPORT}, format="json"
    ).json()
    assert reply["power"] == {"mode": "dry_run", "watts": 500}
    node.refresh_from_db()
    assert node.power_cap_reported_at is not None
    assert node.power_cap_report["gpus"]["0"]["action"] == "would_set"
    assert node.power_cap_report["gpus"]["0"]["target_w"] == 500.0
    assert node.power_cap_report["gpus"]["1"]["error"] == "NVML: Insufficient Permissions"

    # A heartbeat without a report (an older agent) leaves the last one alone.
    agent.post("/api/agent/v1/heartbeat", {"running": []}, format="json")
    node.refresh_from_db()
    assert node.power_cap_report["mode"] == "dry_run"


def test_a_malformed_report_is_bounded_not_stored_as_is(make_node):
    node, agent = make_node("gpu-q", gpus=1)
    junk = {
        "mode": "<script>",
        "watts": "lots",
        "error": "x" * 5000,
        "gpus": {"0": {"action": "explode", "target_w": 1e300, "extra": "y"}, "a": {}, "1": 7},
    }
    response = agent.post("/api/agent/v1/heartbeat", {"power": junk}, format="json")
    assert response.status_code == 200
    node.refresh_from_db()
    report = node.power_cap_report
    assert report["mode"] == "" and report["watts"] is None and len(report["error"]) == 300
    assert list(report["gpus"]) == ["0"]
    assert report["gpus"]["0"]["action"] == "none" and report["gpus"]["0"]["target_w"] is None
    assert "extra" not in report["gpus"]["0"]
    bad = agent.post("/api/agent/v1/heartbeat", {"power": "on"}, format="json")
    assert bad.status_code == 400


# ------------------------------------------------------------------ pages and admin


def test_node_page_shows_the_report_full_and_partial(personas, make_node):
    node, _ = make_node("gpu-r", gpus=1)
    Node.objects.filter(pk=node.pk).update(
        power_cap_mode="dry_run", power_cap_watts=500, power_cap_report=DRY_RUN_REPORT
    )
    client = Client()
    client.force_login(personas.viewer)
    page = client.get("/fleet/gpu-r/").content.decode()
    assert "dry run: would set GPU 0 from 700 W to 500 W" in page
    assert "dry run: 500 W per GPU" in page
    assert "/admin/fleet/node/" not in page  # read-only for non-admins
    partial = client.get("/fleet/gpu-r/", HTTP_HX_REQUEST="true").content.decode()
    assert "would set GPU 0" in partial and "<html" not in partial
    assert "power cap dry run 500 W" in client.get("/fleet/").content.decode()
    client.force_login(personas.admin)
    assert f"/admin/fleet/node/{node.pk}/change/" in client.get("/fleet/gpu-r/").content.decode()


def _admin_form(node: Node, **fields) -> dict:
    data = {
        "cpu_power_watts": "",
        "price_tier": node.price_tier,
        "price_on_demand": "",
        "price_spot": "",
        "price_reserved": "",
        "power_cap_mode": node.power_cap_mode,
        "power_cap_watts": "",
    }
    data.update(fields)
    return data


def test_admin_panel_edits_through_the_service(db):
    superuser = get_user_model().objects.create_superuser("root", "root@example.org", "pw")
    node = Node.objects.create(name="n1")
    client = Client()
    client.force_login(superuser)
    url = f"/admin/fleet/node/{node.pk}/change/"
    assert client.get(url).status_code == 200
    refused = client.post(url, _admin_form(node, power_cap_mode="enforce"))
    assert refused.status_code == 200  # the form again, with the error
    assert "needs power_cap_watts" in refused.content.decode()
    out_of_range = client.post(url, _admin_form(node, power_cap_mode="enforce", power_cap_watts=9))
    assert out_of_range.status_code == 200
    assert Node.objects.get(pk=node.pk).power_cap_mode == "off"
    done = client.post(
        url,
        _admin_form(
            node,
            power_cap_mode="enforce",
            power_cap_watts="600",
            price_tier="reserved",
            price_reserved="1.75",
            cpu_power_watts="250",
        ),
    )
    assert done.status_code == 302, done.content.decode()[-2000:]
    node.refresh_from_db()
    assert (node.power_cap_mode, node.power_cap_watts) == ("enforce", 600)
    assert selectors.node_hourly_price(node, 2) == Decimal("3.5")
    assert selectors.node_power_model_watts(node) == 250.0
    assert AuditEvent.objects.filter(action="node.power_policy", actor=superuser).exists()
    assert AuditEvent.objects.filter(action="node.pricing", actor=superuser).exists()
