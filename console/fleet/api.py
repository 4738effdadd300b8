from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.core.permissions import require
from console.core.roles import Cap
from console.fleet import selectors, services
from console.fleet.models import POWER_CAP_MAX_WATTS, POWER_CAP_MIN_WATTS, Gpu, Node


class GpuSerializer(serializers.ModelSerializer):
    busy = serializers.BooleanField(read_only=True, default=False)

    class Meta:
        model = Gpu
        fields = [
            "index",
            "model",
            "memory_mib",
            "driver",
            "busy",
            "util",
            "mem_used_mib",
            "power_w",
            "temp_c",
            "sampled_at",
        ]
        read_only_fields = fields


class NodeSerializer(serializers.ModelSerializer):
    gpus = GpuSerializer(many=True, read_only=True)
    running = serializers.IntegerField(read_only=True, default=0)
    queue = serializers.CharField(read_only=True)
    power_model_watts = serializers.SerializerMethodField(
        help_text="Watts assumed while a job runs where NVML gives no power (CPU-only nodes)."
    )
    hourly_price = serializers.SerializerMethodField(
        help_text="Price per GPU-hour (per node-hour without GPUs) at the node's price tier."
    )
    power_cap_summary = serializers.SerializerMethodField(
        help_text="The agent's last power report in words."
    )

    def get_power_model_watts(self, node: Node) -> float:
        return selectors.node_power_model_watts(node)

    def get_hourly_price(self, node: Node) -> str:
        return str(selectors.node_hourly_price(node, 1))

    def get_power_cap_summary(self, node: Node) -> list[str]:
        return selectors.node_power_report_lines(node)

    class Meta:
        model = Node
        fields = [
            "name",
            "status",
            "enabled",
            "hostname",
            "cpu_count",
            "memory_mib",
            "platform",
            "agent_version",
            "nvml_error",
            "queue",
            "running",
            "gpus",
            "created_at",
            "registered_at",
            "last_heartbeat_at",
            "cpu_power_watts",
            "power_model_watts",
            "price_tier",
            "price_on_demand",
            "price_spot",
            "price_reserved",
            "hourly_price",
            "power_cap_mode",
            "power_cap_watts",
            "power_cap_report",
            "power_cap_reported_at",
            "power_cap_summary",
        ]
        read_only_fields = fields


class NodeSettingsSerializer(serializers.Serializer):
    """What an admin may change on a node (PATCH): any subset of these."""

    power_cap_mode = serializers.ChoiceField(choices=Node.PowerCapMode.choices, required=False)
    power_cap_watts = serializers.IntegerField(
        allow_null=True,
        required=False,
        min_value=POWER_CAP_MIN_WATTS,
        max_value=POWER_CAP_MAX_WATTS,
        help_text="Per GPU.",
    )
    cpu_power_watts = serializers.FloatField(
        allow_null=True, required=False, min_value=0, max_value=100_000
    )
    price_tier = serializers.ChoiceField(choices=Node.PriceTier.choices, required=False)
    price_on_demand = serializers.DecimalField(
        max_digits=12, decimal_places=4, allow_null=True, required=False, min_value=0
    )
    price_spot = serializers.DecimalField(
        max_digits=12, decimal_places=4, allow_null=True, required=False, min_value=0
    )
    price_reserved = serializers.DecimalField(
        max_digits=12, decimal_places=4, allow_null=True, required=False, min_value=0
    )


class NodeCreateSerializer(serializers.Serializer):
    name = serializers.SlugField(max_length=64, help_text="Also the queue name: node.<name>.")


class NodeTokenSerializer(serializers.Serializer):
    node = serializers.CharField()
    token = serializers.CharField(help_text="Shown once; give it to the node's agent.")


class NodeListApi(ListAPIView):
    serializer_class = NodeSerializer

    def get_queryset(self):
        return selectors.node_list()

    @extend_schema(request=NodeCreateSerializer, responses={201: NodeTokenSerializer})
    def post(self, request: Request) -> Response:
        if not require(Cap.FLEET_MANAGE)().has_permission(request, self):
            self.permission_denied(
                request, message="Adding nodes needs the 'fleet.manage' permission."
            )
        payload = NodeCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        issued = services.node_create(actor=request.user, name=payload.validated_data["name"])
        return Response(
            {"node": issued.node.name, "token": issued.key}, status=status.HTTP_201_CREATED
        )


def _node(name: str) -> Node:
    node = selectors.node_get(name=name)
    if node is None:
        raise Http404
    return node


class NodeDetailApi(APIView):
    @extend_schema(responses=NodeSerializer)
    def get(self, request: Request, name: str) -> Response:
        return Response(NodeSerializer(_node(name)).data)

    @extend_schema(request=NodeSettingsSerializer, responses={200: NodeSerializer, 403: dict})
    def patch(self, request: Request, name: str) -> Response:
        """Power policy, power model and prices; admins only (403 otherwise)."""
        node = _node(name)
        payload = NodeSettingsSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.node_settings_update(actor=request.user, node=node, **payload.validated_data)
        return Response(NodeSerializer(selectors.node_get(name=node.name)).data)


class _NodeManageApi(APIView):
    permission_classes = [require(Cap.FLEET_MANAGE)]


class NodeTokenApi(_NodeManageApi):
    @extend_schema(request=None, responses=NodeTokenSerializer)
    def post(self, request: Request, name: str) -> Response:
        issued = services.node_token_issue(actor=request.user, node=_node(name))
        return Response({"node": issued.node.name, "token": issued.key})


class NodeRevokeApi(_NodeManageApi):
    @extend_schema(request=None, responses=NodeSerializer)
    def post(self, request: Request, name: str) -> Response:
        node = _node(name)
        services.node_token_revoke(actor=request.user, node=node)
        return Response(NodeSerializer(node).data)


class NodeEnableApi(_NodeManageApi):
    enabled = True

    @extend_schema(request=None, responses=NodeSerializer)
    def post(self, request: Request, name: str) -> Response:
        node = services.node_set_enabled(actor=request.user, node=_node(name), enabled=self.enabled)
        return Response(NodeSerializer(selectors.node_get(name=node.name)).data)


class NodeDisableApi(NodeEnableApi):
    enabled = False


class NodeTelemetryApi(APIView):
    @extend_schema(responses=dict)
    def get(self, request: Request, name: str) -> Response:
        node = _node(name)
        try:
            minutes = max(1, min(24 * 60, int(request.query_params.get("minutes", 10))))
        except ValueError:
            raise serializers.ValidationError({"minutes": ["must be an integer"]}) from None
        series = selectors.gpu_recent_samples(nodes=[node], minutes=minutes)
        by_index = {gpu.pk: gpu.index for gpu in node.gpus.all()}
        return Response(
            {"node": node.name, "gpus": {str(by_index[k]): v for k, v in series.items()}}
        )
