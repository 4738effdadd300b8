"""Carbon API: the forecast the scheduler plans with (never waiting on the provider)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.carbon.selectors import forecast_series
from console.core.permissions import IsMember


class ForecastPointSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    g_per_kwh = serializers.FloatField()


class ForecastSerializer(serializers.Serializer):
    source = serializers.CharField()  # type: ignore[assignment]  # the API's field name
    warning = serializers.CharField(help_text="Why a fallback is in use (empty when none).")
    now = serializers.DateTimeField()
    points = ForecastPointSerializer(many=True)


class ForecastApi(APIView):
    permission_classes = [IsMember]

    @extend_schema(responses=ForecastSerializer)
    def get(self, request: Request) -> Response:
        chart, source, warning = forecast_series()
        points = [
            {"start": t, "g_per_kwh": v}
            for t, v in zip(chart["times"], chart["values"], strict=True)
        ]
        return Response(
            {"source": source, "warning": warning, "now": chart["now"], "points": points}
        )
