"""The agents' API (/api/agent/v1/): separate from the user API, node tokens only."""

from __future__ import annotations

import json

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.audit.services import audit_record
from console.fleet import services
from console.fleet.authentication import IsNode, NodeTokenAuthentication
from gpu_agent.spec import MAX_BATCH_BYTES, spec_to_dict


class AgentApi(APIView):
    authentication_classes = [NodeTokenAuthentication]
    permission_classes = [IsNode]
    # Replies name the storage roots to the agent: DRF's renderer, not the members'
    # path-relativising default.
    renderer_classes = [JSONRenderer]


def _whole(value, high: int) -> bool:
    """A whole number 0..high: what the node's and GPUs' positive integer columns hold."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= high


class RegisterSerializer(serializers.Serializer):
    name = serializers.SlugField(max_length=64)
    agent_version = serializers.CharField(max_length=32, allow_blank=True, default="")
    inventory = serializers.DictField()

    def validate_inventory(self, value):
        # Out-of-range or non-numeric counts must be a 400 here, not a failed insert (500).
        gpus = value.get("gpus", [])
        if not isinstance(gpus, list) or any(
            not isinstance(g, dict)
            or not _whole(g.get("index"), 2**15 - 1)
            or not _whole(g.get("memory_mib") or 0, 2**31 - 1)
            for g in gpus
        ):
            raise serializers.ValidationError(
                "gpus must be a list of objects with an integer index and memory_mib."
            )
        for key, high in (("cpu_count", 2**31 - 1), ("memory_mib", 2**63 - 1)):
            if not _whole(value.get(key) or 0, high):
                raise serializers.ValidationError(f"{key} must be a whole number 0-{high}.")
        return value


class RegisterApi(AgentApi):
    @extend_schema(request=RegisterSerializer, responses={200: dict}, auth=[])
    def post(self, request: Request) -> Response:
        payload = RegisterSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        node = request.user.node
        if payload.validated_data["name"] != node.name:
            audit_record(
                action="agent.wrong_node",
                actor=None,
                obj=node,
                after={"claimed": payload.validated_data["name"]},
            )
            return Response(
                {"detail": f"This token belongs to node {node.name!r}."},
                status=status.HTTP_403_FORBIDDEN,
            )
        reply = services.node_register(
            node=node,
            inventory=payload.validated_data["inventory"],
            agent_version=payload.validated_data["agent_version"],
        )
        return Response(spec_to_dict(reply))


class HeartbeatSerializer(serializers.Serializer):
    running = serializers.ListField(child=serializers.DictField(), required=False, default=list)
    host = serializers.DictField(required=False, default=dict)
    spool = serializers.DictField(required=False, default=dict)
    power = serializers.DictField(
        required=False, help_text="The agent's report of the power policy it last applied."
    )

    def validate_running(self, value):
        if any(
            not _whole(item.get(key, 0), 2**63 - 1) for item in value for key in ("job", "attempt")
        ):
            raise serializers.ValidationError("each running job needs an integer job and attempt.")
        return value


class HeartbeatApi(AgentApi):
    @extend_schema(request=HeartbeatSerializer, responses={200: dict}, auth=[])
    def post(self, request: Request) -> Response:
        payload = HeartbeatSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        reply = services.node_heartbeat(
            node=request.user.node,
            running=data["running"],
            host=data["host"],
            spool=data["spool"],
            power=data.get("power"),
        )
        return Response(spec_to_dict(reply))


class IngestApi(AgentApi):
    """A batch of records: all ingested, or none (400 naming the bad records)."""

    @extend_schema(request=dict, responses={200: dict, 400: dict, 404: dict, 413: dict}, auth=[])
    def post(self, request: Request) -> Response:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > MAX_BATCH_BYTES:
            return Response(
                {"detail": f"batch larger than {MAX_BATCH_BYTES} bytes"},
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        try:
            raw = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return Response({"detail": "body is not JSON", "errors": []}, status=400)
        node = request.user.node
        try:
            records = services.parse_batch(raw)
        except services.BatchInvalid as exc:
            return Response({"detail": exc.message, "errors": exc.errors[:100]}, status=400)
        try:
            result = services.ingest_batch(node=node, records=records)
        except services.UnknownStream as exc:
            unknown = [{"job": job, "attempt": attempt} for job, attempt in exc.streams]
            return Response({"detail": exc.message, "unknown": unknown}, status=404)
        return Response(
            {
                "accepted": result.accepted,
                "duplicates": result.duplicates,
                "points": result.points,
                "stop": result.stop,
            }
        )
