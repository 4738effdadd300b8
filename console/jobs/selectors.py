from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from console.jobs.models import Job
from console.projects.selectors import project_list


def job_list(*, user, state: str = "", kind: str = "", project: str = "") -> QuerySet[Job]:
    """Jobs in the projects the user can see (others' are invisible, S3)."""
    jobs = Job.objects.filter(project__in=project_list(user=user)).select_related(
        "project", "requested_by"
    )
    if state:
        jobs = jobs.filter(state__in=state.split(","))
    if kind:
        jobs = jobs.filter(kind=kind)
    if project:
        jobs = jobs.filter(project__slug=project)
    return jobs


def job_get(*, user, job_id: int) -> Job | None:
    return job_list(user=user).filter(pk=job_id).first()


def job_state_counts(*, user) -> dict[str, int]:
    rows = job_list(user=user).order_by().values("state").annotate(n=Count("id"))
    return {row["state"]: row["n"] for row in rows}


def job_daily_counts(*, user, days: int = 14) -> dict:
    """Jobs created per day and final state, for the dashboard chart."""
    since = timezone.now() - timedelta(days=days - 1)
    start = since.date()
    rows = (
        job_list(user=user)
        .filter(created_at__date__gte=start)
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values("day", "state")
        .annotate(n=Count("id"))
    )
    dates = [start + timedelta(days=i) for i in range(days)]
    series: dict[str, list[int]] = {}
    for row in rows:
        series.setdefault(row["state"], [0] * days)[(row["day"] - start).days] += row["n"]
    return {"dates": [d.isoformat() for d in dates], "series": series}
