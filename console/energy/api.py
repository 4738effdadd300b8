"""Energy REST API: a job's energy, emissions and cost, and totals per project or month.
Reads need a role in the job's project: another team's job answers 404 and is never
counted in a total."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.core.permissions import IsMember
from console.energy import selectors
from console.energy.models import JobUsage
from console.jobs.selectors import job_get


class JobUsageSerializer(serializers.ModelSerializer):
    kgco2e = serializers.FloatField(allow_null=True, read_only=True)
    breakdown = serializers.ListField(child=serializers.DictField(), read_only=True)

    class Meta:
        model = JobUsage
        fields = [
            "energy_kwh",
            "gco2e",
            "kgco2e",
            "mean_intensity_g_per_kwh",
            "intensity_source",
            "cost",
            "currency",
            "gpu_hours",
            "node_hours",
            "method",
            "breakdown",
            "month",
            "computed_at",
            "final",
        ]
        read_only_fields = fields


class JobEnergySerializer(serializers.Serializer):
    job = serializers.IntegerField()
    state = serializers.CharField()
    metered = serializers.BooleanField(help_text="False for jobs run by console workers.")
    note = serializers.CharField(help_text="Why a job has no figures (yet), else empty.")
    usage = JobUsageSerializer(allow_null=True)


class TotalsRowSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="Project slug, or the month's first day.")
    label = serializers.CharField()  # type: ignore[assignment]  # the API's field name
    energy_kwh = serializers.FloatField()
    gco2e = serializers.FloatField()
    cost = serializers.DecimalField(max_digits=16, decimal_places=2)
    currency = serializers.CharField()
    gpu_hours = serializers.FloatField()
    node_hours = serializers.FloatField()
    jobs = serializers.IntegerField()


class TotalsSerializer(serializers.Serializer):
    group = serializers.ChoiceField(choices=selectors.GROUPS)
    project = serializers.CharField(allow_blank=True)
    results = TotalsRowSerializer(many=True)


class TotalsQuerySerializer(serializers.Serializer):
    group = serializers.ChoiceField(choices=selectors.GROUPS, default="project")
    project = serializers.SlugField(max_length=100, required=False, allow_blank=True)


class JobUsageApi(APIView):
    permission_classes = [IsMember]

    @extend_schema(responses=JobEnergySerializer)
    def get(self, request: Request, job_id: int) -> Response:
        """Energy (kWh), emissions (gCO2e), cost and how they were measured, for one job."""
        job = job_get(user=request.user, job_id=job_id)
        if job is None:
            raise Http404
        usage = selectors.job_usage(job)
        note = selectors.job_metering(job)
        if usage is None and not note:
            note = "no figures yet: the job has not held a node"
        data = {
            "job": job.pk,
            "state": job.state,
            "metered": not note or usage is not None,
            "note": "" if usage is not None else note,
            "usage": JobUsageSerializer(usage).data if usage is not None else None,
        }
        return Response(data)


class UsageTotalsApi(APIView):
    permission_classes = [IsMember]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "group", str, enum=list(selectors.GROUPS), description="Default project."
            ),
            OpenApiParameter("project", str, description="Project slug: only its jobs."),
        ],
        responses=TotalsSerializer,
    )
    def get(self, request: Request) -> Response:
        """Energy, emissions, cost, GPU-hours and job count per project or per month."""
        query = TotalsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        group = query.validated_data["group"]
        project = query.validated_data.get("project", "")
        results = selectors.usage_totals(request.user, group=group, project=project)
        return Response(
            TotalsSerializer({"group": group, "project": project, "results": results}).data
        )
