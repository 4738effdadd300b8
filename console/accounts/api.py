from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.accounts import selectors, services
from console.accounts.models import ApiToken
from console.core.roles import caps_for, roles_of

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    permissions = serializers.ListField(child=serializers.CharField())


class MeApi(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        user = request.user
        data = {
            "username": user.get_username(),
            "roles": roles_of(user),
            "permissions": sorted(c.value for c in caps_for(user)),
        }
        return Response(MeSerializer(data).data)


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class ApiTokenIssuedSerializer(ApiTokenSerializer):
    key = serializers.CharField(read_only=True, help_text="Shown once; store it now.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiTokenListApi(ListAPIView):
    serializer_class = ApiTokenSerializer

    def get_queryset(self):
        return selectors.api_token_list(user=self.request.user)

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenIssuedSerializer})
    def post(self, request: Request) -> Response:
        payload = ApiTokenCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        issued = services.api_token_create(
            user=cast("User", request.user),  # signed in: the view requires it
            name=payload.validated_data["name"],
        )
        data = {**ApiTokenSerializer(issued.token).data, "key": issued.key}
        return Response(data, status=status.HTTP_201_CREATED)


class ApiTokenRevokeApi(APIView):
    @extend_schema(request=None, responses=ApiTokenSerializer)
    def post(self, request: Request, token_id: int) -> Response:
        token = selectors.api_token_list(user=request.user).filter(pk=token_id).first()
        if token is None:
            raise Http404
        return Response(
            ApiTokenSerializer(services.api_token_revoke(token=token, actor=request.user)).data
        )
