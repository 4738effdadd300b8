from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.accounts.permissions import require
from console.accounts.roles import Cap
from console.fleet import selectors, services
from console.fleet.models import Gpu, Node


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
        ]
        read_only_fields = fields


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
