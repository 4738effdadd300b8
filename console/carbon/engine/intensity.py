"""Carbon intensity forecasts and the providers that make them (no Django).

A ``Forecast`` is a contiguous, sorted list of ``Point`` (start, minutes, gCO2e/kWh), all
in UTC-aware datetimes. Providers turn a source (a constant, a CSV trace replayed week by
week, the Carbon Aware SDK or Electricity Maps over HTTP) into a Forecast, and raise
``ProviderError`` with a clear message on anything wrong: the console then falls back to
its last good forecast (``Forecast.to_json`` / ``from_json``) or to running jobs at once.

Outside its points a forecast is extended flat: times before the first point take the
first point's value, times after the last point take the last point's value. This keeps
``emissions_g`` defined for any interval; the planner never *chooses* a start beyond the
forecast's end (see planner.py).
"""

from __future__ import annotations

import csv
import json
import math
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Protocol
from urllib.parse import urlencode, urljoin, urlsplit

import httpx

SECONDS_PER_HOUR = 3600.0
TRACE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
WEEK = timedelta(days=7)


class ProviderError(Exception):
    """A provider could not produce a usable forecast (network, HTTP status, bad data)."""


def _require_aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def _check_value(value: object, where: str) -> float:
    """A finite, non-negative number, or ProviderError naming `where`."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ProviderError(f"{where}: intensity {value!r} is not a number")
    try:
        number = float(value)
    except ValueError:
        raise ProviderError(f"{where}: intensity {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ProviderError(f"{where}: intensity {value!r} is not finite")
    if number < 0:
        raise ProviderError(f"{where}: intensity {number} is negative")
    return number


def parse_time(text: str, where: str = "time") -> datetime:
    """'YYYY-MM-DD HH:MM:SS' (taken as UTC) or ISO 8601 with an offset or Z, as UTC."""
    if not isinstance(text, str) or not text.strip():
        raise ProviderError(f"{where}: missing timestamp")
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith("Z") else raw)
    except ValueError:
        raise ProviderError(f"{where}: {raw!r} is not a timestamp") from None
    if value.tzinfo is None:
        if "T" in raw:  # ISO 8601 must say its offset; the trace format is plain UTC
            raise ProviderError(f"{where}: {raw!r} has no UTC offset")
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Point:
    start: datetime
    minutes: int
    g_per_kwh: float

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)


@dataclass
class Forecast:
    """Contiguous points, sorted by start. Checked on construction (ValueError)."""

    points: list[Point]
    source: str
    fetched_at: datetime
    warning: str = ""
    _starts: list[float] = field(init=False, repr=False, compare=False)
    _cum: list[float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.points:
            raise ValueError("a forecast needs at least one point")
        _require_aware("fetched_at", self.fetched_at)
        starts: list[float] = []
        cum = [0.0]
        previous: Point | None = None
        for i, point in enumerate(self.points):
            _require_aware(f"points[{i}].start", point.start)
            if point.minutes <= 0:
                raise ValueError(f"points[{i}]: minutes must be positive, got {point.minutes}")
            if not math.isfinite(point.g_per_kwh):
                raise ValueError(f"points[{i}]: intensity {point.g_per_kwh} is not finite")
            if previous is not None and point.start != previous.end:
                raise ValueError(
                    f"points[{i}] starts at {point.start.isoformat()}, expected "
                    f"{previous.end.isoformat()} (points must be sorted and contiguous)"
                )
            starts.append(point.start.timestamp())
            cum.append(cum[-1] + point.g_per_kwh * point.minutes * 60.0)
            previous = point
        self._starts = starts
        self._cum = cum  # integral of intensity (g/kWh x s) from the first start

    # ---------------------------------------------------------------- shape

    @property
    def start(self) -> datetime:
        return self.points[0].start

    @property
    def end(self) -> datetime:
        return self.points[-1].end

    @property
    def resolution(self) -> timedelta:
        """The shortest point duration (the natural planning slot)."""
        return timedelta(minutes=min(p.minutes for p in self.points))

    # ---------------------------------------------------------------- values

    def _index(self, ts: float) -> int:
        return max(0, min(len(self.points) - 1, bisect_right(self._starts, ts) - 1))

    def intensity_at(self, t: datetime) -> float:
        _require_aware("t", t)
        return self.points[self._index(t.timestamp())].g_per_kwh

    def integral(self, ts: float) -> float:
        """Integral of intensity (g/kWh x seconds) from the forecast's start to `ts`
        (epoch seconds), extended flat beyond both ends. The planner's prefix sum."""
        first = self._starts[0]
        if ts <= first:
            return (ts - first) * self.points[0].g_per_kwh
        end = self._starts[-1] + self.points[-1].minutes * 60.0
        if ts >= end:
            return self._cum[-1] + (ts - end) * self.points[-1].g_per_kwh
        i = bisect_right(self._starts, ts) - 1
        return self._cum[i] + (ts - self._starts[i]) * self.points[i].g_per_kwh

    def mean_between(self, start: datetime, end: datetime) -> float:
        """Time-weighted mean intensity over [start, end)."""
        _require_aware("start", start)
        _require_aware("end", end)
        a, b = start.timestamp(), end.timestamp()
        if b < a:
            raise ValueError("end is before start")
        if b == a:
            return self.intensity_at(start)
        return (self.integral(b) - self.integral(a)) / (b - a)

    def emissions_g(self, start: datetime, end: datetime, watts: float) -> float:
        """gCO2e for a constant `watts` over [start, end) (flat beyond the forecast's ends)."""
        _require_aware("start", start)
        _require_aware("end", end)
        a, b = start.timestamp(), end.timestamp()
        if b <= a:
            return 0.0
        return (self.integral(b) - self.integral(a)) / SECONDS_PER_HOUR * watts / 1000.0

    # ---------------------------------------------------------------- cache

    def to_json(self) -> dict:
        """A JSON-serialisable dict (the console's last-good cache)."""
        return {
            "source": self.source,
            "fetched_at": self.fetched_at.isoformat(),
            "warning": self.warning,
            "points": [[p.start.isoformat(), p.minutes, p.g_per_kwh] for p in self.points],
        }

    @classmethod
    def from_json(cls, data: dict | str) -> Forecast:
        """Inverse of to_json (a dict, or its JSON text). ValueError on a malformed cache."""
        if isinstance(data, str):
            data = json.loads(data)
        try:
            points = [
                Point(datetime.fromisoformat(s), int(m), float(v)) for s, m, v in data["points"]
            ]
            return cls(
                points=points,
                source=str(data["source"]),
                fetched_at=datetime.fromisoformat(data["fetched_at"]),
                warning=str(data.get("warning", "")),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a cached forecast: {exc}") from None


class Provider(Protocol):
    name: str

    def forecast(self, start: datetime, end: datetime) -> Forecast:
        """Points covering as much of [start, end) as the source has; ProviderError else."""
        ...


def _check_range(start: datetime, end: datetime) -> None:
    try:
        _require_aware("start", start)
        _require_aware("end", end)
    except ValueError as exc:
        raise ProviderError(str(exc)) from None
    if end <= start:
        raise ProviderError(f"empty range: end {end.isoformat()} <= start {start.isoformat()}")


def _floor(t: datetime, step: timedelta, origin: datetime) -> datetime:
    return origin + ((t - origin) // step) * step


# ==================================================================== constant


class ConstantProvider:
    """The same intensity everywhere: a fallback, and for tests."""

    def __init__(self, g_per_kwh: float, resolution_minutes: int = 30) -> None:
        self.g_per_kwh = _check_value(g_per_kwh, "ConstantProvider")
        if resolution_minutes <= 0:
            raise ValueError("resolution_minutes must be positive")
        self.resolution_minutes = resolution_minutes
        self.name = f"constant:{self.g_per_kwh:g}"

    def forecast(self, start: datetime, end: datetime) -> Forecast:
        _check_range(start, end)
        step = timedelta(minutes=self.resolution_minutes)
        t = _floor(start.astimezone(UTC), step, datetime(2000, 1, 3, tzinfo=UTC))
        points = []
        while t < end:
            points.append(Point(t, self.resolution_minutes, self.g_per_kwh))
            t += step
        return Forecast(points, self.name, datetime.now(UTC))


# ==================================================================== CSV trace


def read_trace(path: str | Path, *, step_minutes: int = 30) -> list[tuple[datetime, float]]:
    """The rows of a `Time,Carbon Intensity` CSV as (UTC time, gCO2e/kWh), strictly checked.

    Times are 'YYYY-MM-DD HH:MM:SS' (UTC) or ISO 8601 with an offset. Rows whose time is off
    the `step_minutes` grid are skipped (the GB 2020 trace switches to 15-minute steps in
    October; like the paper's code, only the :00 and :30 rows are kept). The kept rows must
    be strictly increasing and exactly `step_minutes` apart. ProviderError names the line.
    """
    path = Path(path)
    step = timedelta(minutes=step_minutes)
    rows: list[tuple[datetime, float]] = []
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise ProviderError(f"{path}: cannot open: {exc.strerror or exc}") from None
    with handle:
        try:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise ProviderError(f"{path}: empty file")
            names = [h.strip().lstrip("\ufeff").lower() for h in header]
            if names[:2] != ["time", "carbon intensity"]:
                raise ProviderError(
                    f"{path}:1: header must be 'Time,Carbon Intensity', got {','.join(header)!r}"
                )
            for row in reader:
                line = reader.line_num
                where = f"{path}:{line}"
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != 2:
                    raise ProviderError(f"{where}: expected 2 columns, got {len(row)}")
                t = parse_time(row[0], where)
                value = _check_value(row[1].strip(), where)
                if (t.minute * 60 + t.second) % (step_minutes * 60) or t.microsecond:
                    continue
                if rows and t <= rows[-1][0]:
                    raise ProviderError(
                        f"{where}: time {t.isoformat()} is not after the previous row "
                        f"({rows[-1][0].isoformat()})"
                    )
                if rows and t - rows[-1][0] != step:
                    raise ProviderError(
                        f"{where}: gap: {t.isoformat()} follows {rows[-1][0].isoformat()}, "
                        f"expected {step_minutes}-minute steps"
                    )
                rows.append((t, value))
        except UnicodeDecodeError:
            raise ProviderError(f"{path}: not UTF-8 text") from None
        except csv.Error as exc:
            raise ProviderError(f"{path}: malformed CSV: {exc}") from None
    if not rows:
        raise ProviderError(f"{path}: no data rows")
    return rows


class CsvTraceProvider:
    """Replays a recorded trace for any time.

    The trace repeats with a period of its length rounded down to whole weeks, anchored at
    its first row, so any time maps to a trace point with the same weekday and time of day.
    The trace must hold at least one week.
    """

    def __init__(self, path: str | Path, *, step_minutes: int = 30) -> None:
        self.path = Path(path)
        self.rows = read_trace(self.path, step_minutes=step_minutes)
        self.step = timedelta(minutes=step_minutes)
        self.step_minutes = step_minutes
        self.origin = self.rows[0][0]
        weeks = (len(self.rows) * self.step) // WEEK
        if weeks < 1:
            raise ProviderError(f"{self.path}: the trace is shorter than one week")
        self.period_steps = (weeks * WEEK) // self.step
        self.name = f"trace:{self.path.name}"

    def value_at(self, t: datetime) -> float:
        return self.rows[((t - self.origin) // self.step) % self.period_steps][1]

    def forecast(self, start: datetime, end: datetime) -> Forecast:
        _check_range(start, end)
        t = _floor(start.astimezone(UTC), self.step, self.origin)
        points = []
        while t < end:
            points.append(Point(t, self.step_minutes, self.value_at(t)))
            t += self.step
        return Forecast(points, self.name, datetime.now(UTC))


# ==================================================================== HTTP


class HttpProvider:
    """A forecast over HTTP: the Carbon Aware SDK's WebApi or Electricity Maps (v3).

    carbon-aware-sdk: GET {base}/emissions/forecasts/current?location=..&dataStartAt=..
    &dataEndAt=.. -> [{"location", "forecastData": [{"timestamp", "duration", "value"}], ..}]
    (duration in minutes). electricity-maps: GET {base}/v3/carbon-intensity/forecast?zone=..
    with header auth-token -> {"zone", "forecast": [{"datetime", "carbonIntensity"}], ..}
    (a point lasts until the next one; the last as long as the one before it).

    Guards: `timeout` seconds for connecting and for the whole response; bodies over
    `max_bytes` refused; redirects followed only on the same scheme, host and port (at most
    3); anything else (status, JSON, shape, values, times) is a ProviderError.
    """

    APIS = ("carbon-aware-sdk", "electricity-maps")

    def __init__(
        self,
        base_url: str,
        *,
        api: str,
        location: str,
        token: str = "",
        timeout: float = 5.0,
        max_bytes: int = 5 * 1024 * 1024,
    ) -> None:
        if api not in self.APIS:
            raise ValueError(f"api must be one of {', '.join(self.APIS)}, got {api!r}")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if not location:
            raise ValueError("location is required")
        self.base_url = base_url.rstrip("/") + "/"
        self.api = api
        self.location = location
        self.token = token
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.name = f"{api}:{location}"

    def _url_and_headers(self, start: datetime, end: datetime) -> tuple[str, dict[str, str]]:
        headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        if self.api == "carbon-aware-sdk":
            query = {
                "location": self.location,
                "dataStartAt": start.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "dataEndAt": end.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            }
            path = "emissions/forecasts/current"
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
        else:
            query = {"zone": self.location}
            path = "v3/carbon-intensity/forecast"
            if self.token:
                headers["auth-token"] = self.token
        return urljoin(self.base_url, path) + "?" + urlencode(query), headers

    def _get(self, url: str, headers: dict[str, str]) -> bytes:
        origin = urlsplit(url)
        deadline = time.monotonic() + self.timeout
        timeout = httpx.Timeout(self.timeout)
        try:
            with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
                for _ in range(4):
                    with client.stream("GET", url, headers=headers) as response:
                        if response.is_redirect:
                            target = urljoin(url, response.headers.get("location", ""))
                            there = urlsplit(target)
                            if (there.scheme, there.hostname, there.port) != (
                                origin.scheme,
                                origin.hostname,
                                origin.port,
                            ):
                                raise ProviderError(
                                    f"{self.name}: refused redirect to another host ({target})"
                                )
                            url = target
                            continue
                        if response.status_code != 200:
                            raise ProviderError(
                                f"{self.name}: HTTP {response.status_code} from {url}"
                            )
                        declared = response.headers.get("content-length", "")
                        if declared.isdigit() and int(declared) > self.max_bytes:
                            raise ProviderError(
                                f"{self.name}: response of {declared} bytes is over the "
                                f"{self.max_bytes}-byte limit"
                            )
                        body = bytearray()
                        for chunk in response.iter_bytes():
                            body += chunk
                            if len(body) > self.max_bytes:
                                raise ProviderError(
                                    f"{self.name}: response over the {self.max_bytes}-byte limit"
                                )
                            if time.monotonic() > deadline:
                                raise ProviderError(
                                    f"{self.name}: timed out after {self.timeout:g} s"
                                )
                        return bytes(body)
                raise ProviderError(f"{self.name}: too many redirects")
        except httpx.TimeoutException:
            raise ProviderError(f"{self.name}: timed out after {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise ProviderError(f"{self.name}: request failed: {exc}") from None

    def forecast(self, start: datetime, end: datetime) -> Forecast:
        _check_range(start, end)
        url, headers = self._url_and_headers(start, end)
        body = self._get(url, headers)
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ProviderError(f"{self.name}: response is not JSON") from None
        if self.api == "carbon-aware-sdk":
            points = self._parse_sdk(data)
        else:
            points = self._parse_emaps(data)
        kept = [p for p in points if p.end > start and p.start < end]
        if not kept:
            raise ProviderError(
                f"{self.name}: no forecast points between {start.isoformat()} and "
                f"{end.isoformat()} (forecast covers {points[0].start.isoformat()} to "
                f"{points[-1].end.isoformat()})"
            )
        try:
            return Forecast(kept, self.name, datetime.now(UTC))
        except ValueError as exc:
            raise ProviderError(f"{self.name}: {exc}") from None

    def _parse_sdk(self, data: object) -> list[Point]:
        if not isinstance(data, list) or not data or not isinstance(data[0], dict):
            raise ProviderError(f"{self.name}: expected a non-empty JSON list of forecasts")
        items = data[0].get("forecastData")
        if not isinstance(items, list) or not items:
            raise ProviderError(f"{self.name}: forecastData is missing or empty")
        points = []
        for i, item in enumerate(items):
            where = f"{self.name}: forecastData[{i}]"
            if not isinstance(item, dict):
                raise ProviderError(f"{where}: not an object")
            t = parse_time(item.get("timestamp"), where)
            minutes = item.get("duration")
            if isinstance(minutes, bool) or not isinstance(minutes, int | float) or minutes <= 0:
                raise ProviderError(f"{where}: duration {minutes!r} is not a positive number")
            if minutes != int(minutes):
                raise ProviderError(f"{where}: duration {minutes!r} is not whole minutes")
            points.append(Point(t, int(minutes), _check_value(item.get("value"), where)))
        self._check_sequence(points)
        return points

    def _parse_emaps(self, data: object) -> list[Point]:
        items = data.get("forecast") if isinstance(data, dict) else None
        if not isinstance(items, list) or not items:
            raise ProviderError(f"{self.name}: 'forecast' is missing or empty")
        times, values = [], []
        for i, item in enumerate(items):
            where = f"{self.name}: forecast[{i}]"
            if not isinstance(item, dict):
                raise ProviderError(f"{where}: not an object")
            times.append(parse_time(item.get("datetime"), where))
            values.append(_check_value(item.get("carbonIntensity"), where))
        for i in range(1, len(times)):
            if times[i] <= times[i - 1]:
                raise ProviderError(
                    f"{self.name}: forecast[{i}] time {times[i].isoformat()} is not after "
                    f"{times[i - 1].isoformat()}"
                )
        steps = [int((b - a).total_seconds() // 60) for a, b in pairwise(times)]
        steps.append(steps[-1] if steps else 60)
        if min(steps) <= 0:
            raise ProviderError(f"{self.name}: forecast points less than a minute apart")
        return [Point(t, m, v) for t, m, v in zip(times, steps, values, strict=True)]

    def _check_sequence(self, points: list[Point]) -> None:
        for i in range(1, len(points)):
            if points[i].start <= points[i - 1].start:
                raise ProviderError(
                    f"{self.name}: point {i} time {points[i].start.isoformat()} is not after "
                    f"{points[i - 1].start.isoformat()}"
                )
            if points[i].start != points[i - 1].end:
                raise ProviderError(
                    f"{self.name}: point {i} starts at {points[i].start.isoformat()}, expected "
                    f"{points[i - 1].end.isoformat()} (gap or overlap)"
                )
