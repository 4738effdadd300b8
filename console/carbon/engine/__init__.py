"""Carbon-aware scheduling engine, Django-free: intensity forecasts, providers, the planner."""

from console.carbon.engine.intensity import (
    ConstantProvider,
    CsvTraceProvider,
    Forecast,
    HttpProvider,
    Point,
    Provider,
    ProviderError,
    read_trace,
)
from console.carbon.engine.planner import Plan, PlanError, emissions_of, plan

__all__ = [
    "ConstantProvider",
    "CsvTraceProvider",
    "Forecast",
    "HttpProvider",
    "Plan",
    "PlanError",
    "Point",
    "Provider",
    "ProviderError",
    "emissions_of",
    "plan",
    "read_trace",
]
