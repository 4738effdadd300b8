from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.jobs.selectors import job_get
from console.metrics.selectors import metric_names, metric_series
from gpu_agent.spec import METRIC_NAME_MAX


class MetricQuerySerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=METRIC_NAME_MAX)
    max_points = serializers.IntegerField(
        required=False, min_value=10, max_value=20_000, default=1000
    )
    after_step = serializers.IntegerField(required=False)


class JobMetricsApi(APIView):
    """A job's metric series, downsampled on the server with spikes kept."""

    @extend_schema(parameters=[MetricQuerySerializer], responses=dict)
    def get(self, request: Request, job_id: int) -> Response:
        if job_get(user=request.user, job_id=job_id) is None:
            raise Http404
        query = MetricQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        names = [q["name"]] if q.get("name") else metric_names(job_id=job_id)
        series = [
            metric_series(
                job_id=job_id, name=n, max_points=q["max_points"], after_step=q.get("after_step")
            )
            for n in names
        ]
        return Response({"job": job_id, "series": series})
