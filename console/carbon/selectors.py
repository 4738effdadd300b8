"""Reads: the forecast plans use (never waiting on the provider), the intensity over a
past interval (for a job's emissions), and what the Carbon page shows."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from console.carbon.engine import (
    ConstantProvider,
    CsvTraceProvider,
    Forecast,
    HttpProvider,
    Provider,
    ProviderError,
)
from console.carbon.models import ForecastSnapshot

SAMPLE_TRACE = Path(__file__).resolve().parent / "engine" / "traces" / "sample.csv"


def _now() -> datetime:
    return timezone.now().astimezone(UTC)


@functools.lru_cache(maxsize=4)
def _trace(path: str, mtime: float) -> CsvTraceProvider:
    return CsvTraceProvider(path)


def fallback_provider() -> ConstantProvider:
    return ConstantProvider(float(settings.FORGE_CARBON_CONSTANT))


def provider_configured() -> Provider:
    """The provider the settings name; ProviderError (or ValueError) when misconfigured."""
    kind = settings.FORGE_CARBON_PROVIDER
    if kind == "constant":
        return fallback_provider()
    if kind == "trace":
        path = Path(settings.FORGE_CARBON_TRACE or SAMPLE_TRACE)
        try:
            return _trace(str(path), path.stat().st_mtime)
        except OSError as exc:
            raise ProviderError(f"{path}: {exc.strerror or exc}") from None
    if kind == "http":
        return HttpProvider(
            settings.FORGE_CARBON_HTTP_URL,
            api=settings.FORGE_CARBON_HTTP_API,
            location=settings.FORGE_CARBON_LOCATION,
            token=settings.FORGE_CARBON_TOKEN,
            timeout=float(settings.FORGE_CARBON_HTTP_TIMEOUT),
        )
    raise ProviderError(f"FORGE_CARBON_PROVIDER={kind!r}: use trace, http or constant")


def provider_is_local() -> bool:
    return settings.FORGE_CARBON_PROVIDER in ("trace", "constant")


def last_good_snapshot(now: datetime | None = None) -> ForecastSnapshot | None:
    now = now or _now()
    oldest = now - timedelta(hours=settings.FORGE_CARBON_MAX_AGE_HOURS)
    return (
        ForecastSnapshot.objects.filter(ok=True, fetched_at__gte=oldest, end__gt=now)
        .order_by("-fetched_at", "-id")
        .first()
    )


def latest_snapshot() -> ForecastSnapshot | None:
    return ForecastSnapshot.objects.order_by("-fetched_at", "-id").first()


def forecast_current(now: datetime | None = None) -> tuple[Forecast, str]:
    """(forecast from now over the horizon, warning). Order: a local provider (trace,
    constant) computed here; else the last good fetched forecast; else the constant
    fallback with a warning. Never touches the network: the beat task fetches."""
    now = now or _now()
    horizon = now + timedelta(hours=settings.FORGE_CARBON_HORIZON_HOURS)
    start = now - timedelta(minutes=30)
    warning = ""
    if provider_is_local():
        try:
            return provider_configured().forecast(start, horizon), ""
        except (ProviderError, ValueError) as exc:
            warning = f"the carbon provider is misconfigured ({exc})"
    else:
        snapshot = last_good_snapshot(now)
        latest = latest_snapshot()
        if latest is not None and not latest.ok:
            warning = f"the carbon provider failed at {latest.fetched_at:%Y-%m-%d %H:%M} UTC: "
            warning += latest.error[:200]
        if snapshot is not None:
            forecast = Forecast.from_json(snapshot.data)
            if warning:
                warning += f"; using the forecast fetched at {snapshot.fetched_at:%H:%M} UTC"
            return forecast, warning
        warning = warning or "no forecast has been fetched from the carbon provider yet"
    constant = fallback_provider()
    warning += f"; planning with the constant {constant.g_per_kwh:g} gCO2e/kWh"
    return constant.forecast(start, horizon), warning


def intensity_between(start: datetime, end: datetime) -> tuple[float, str]:
    """Time-weighted mean gCO2e/kWh over [start, end) and where it came from: the local
    provider's values, else the fetched forecast covering the interval, else the constant."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        end = start + timedelta(seconds=1)
    if provider_is_local():
        try:
            provider = provider_configured()
            return provider.forecast(start, end).mean_between(start, end), provider.name
        except (ProviderError, ValueError):
            pass
    else:
        snapshot = (
            ForecastSnapshot.objects.filter(ok=True, start__lte=end, end__gte=start)
            .order_by("-fetched_at", "-id")
            .first()
        )
        if snapshot is not None:
            forecast = Forecast.from_json(snapshot.data)
            return forecast.mean_between(start, end), f"{snapshot.provider} (fetched forecast)"
    constant = fallback_provider()
    return constant.g_per_kwh, f"constant {constant.g_per_kwh:g} g/kWh (fallback)"


def snapshots_recent(limit: int = 20):
    return ForecastSnapshot.objects.order_by("-fetched_at", "-id")[:limit]


def carbon_jobs(*, user):
    """Carbon-aware jobs of the user's projects, newest first (pending ones first)."""
    from console.jobs.selectors import job_list

    return (
        job_list(user=user)
        .filter(carbon_aware=True)
        .select_related("run")
        .order_by("-created_at", "-id")
    )


def forecast_series(now: datetime | None = None) -> tuple[dict, str, str]:
    """(chart data: UTC times and g/kWh, the source, the warning)."""
    now = now or _now()
    forecast, warning = forecast_current(now)
    points = [p for p in forecast.points if p.start + timedelta(minutes=p.minutes) > now]
    return (
        {
            "times": [p.start.isoformat() for p in points],
            "values": [round(p.g_per_kwh, 2) for p in points],
            "now": now.isoformat(),
        },
        forecast.source,
        warning,
    )
