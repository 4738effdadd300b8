"""API routes, included in console.urls' api_v1 list (namespace "api")."""

from django.urls import path

from console.energy import api

urlpatterns = [
    path("energy/jobs/<id:job_id>/", api.JobUsageApi.as_view(), name="energy-job"),
    path("energy/totals/", api.UsageTotalsApi.as_view(), name="energy-totals"),
]
