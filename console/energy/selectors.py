"""Reads of energy, emissions and cost, scoped to the projects the user may see (another
team's jobs are absent from every total)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Count, F, QuerySet, Sum

from console.energy.models import JobUsage
from console.energy.services import currency
from console.jobs import kinds
from console.jobs.models import Job
from console.projects.selectors import project_list

GROUPS = ("project", "month")
NOT_METERED_WORKER = "not metered (console worker)"


class UnknownGroup(ValueError):
    pass


def job_usage(job: Job) -> JobUsage | None:
    return JobUsage.objects.filter(job=job).first()


def job_metering(job: Job) -> str:
    """Why a job without figures has none: "" when it has (or will have) them."""
    kind = kinds.get(job.kind)
    if kind is not None and kind.runs_on == "worker":
        return NOT_METERED_WORKER
    return ""


def usage_list(*, user, project: str = "") -> QuerySet[JobUsage]:
    rows = JobUsage.objects.filter(project__in=project_list(user=user)).select_related(
        "job", "project"
    )
    if project:
        rows = rows.filter(project__slug=project)
    return rows


def usage_totals(user, *, group: str = "project", project: str | None = None) -> list[dict]:
    """Totals per project (slug, name) or per month (first day), newest month first:
    energy_kwh, gco2e, cost (with currency), gpu_hours, node_hours and jobs."""
    if group not in GROUPS:
        raise UnknownGroup(f"group must be one of {', '.join(GROUPS)}")
    rows = usage_list(user=user, project=project or "").order_by()
    if group == "project":
        rows = rows.values(key=F("project__slug"), label=F("project__name")).order_by("key")
    else:
        rows = rows.values(key=F("month")).order_by("-key")
    rows = rows.annotate(
        energy_kwh=Sum("energy_kwh"),
        gco2e=Sum("gco2e"),
        cost=Sum("cost"),
        gpu_hours=Sum("gpu_hours"),
        node_hours=Sum("node_hours"),
        jobs=Count("id"),
    )
    unit = currency()
    totals = []
    for row in rows:
        item: dict[str, Any] = {
            "key": str(row["key"]) if group == "project" else row["key"].isoformat(),
            "label": row["label"] if group == "project" else f"{row['key']:%B %Y}",
            "energy_kwh": row["energy_kwh"] or 0.0,
            "gco2e": row["gco2e"] or 0.0,
            "kgco2e": (row["gco2e"] or 0.0) / 1000.0,
            "cost": (row["cost"] or Decimal(0)).quantize(Decimal("0.01")),
            "currency": unit,
            "gpu_hours": row["gpu_hours"] or 0.0,
            "node_hours": row["node_hours"] or 0.0,
            "jobs": row["jobs"],
        }
        totals.append(item)
    return totals


def usage_top_jobs(*, user, limit: int = 10) -> QuerySet[JobUsage]:
    """The most energy-hungry jobs."""
    return usage_list(user=user).order_by("-energy_kwh", "-job_id")[:limit]


def monthly_emissions_series(totals_by_month: list[dict]) -> dict[str, list]:
    """Chart data: months oldest first and their kgCO2e."""
    ordered = sorted(totals_by_month, key=lambda row: row["key"])
    return {
        "months": [row["key"] for row in ordered],
        "kgco2e": [round(row["gco2e"] / 1000.0, 6) for row in ordered],
    }
