"""Forecasts and providers: CSV traces (strict, replayed by weekday), HTTP against a real
local server (both API shapes, timeouts, garbage, status, size, redirects)."""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from console.carbon.engine import (
    ConstantProvider,
    CsvTraceProvider,
    Forecast,
    HttpProvider,
    Point,
    ProviderError,
    read_trace,
)

SAMPLE = Path(__file__).resolve().parents[2] / "console/carbon/engine/traces/sample.csv"
T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


def forecast_of(values: list[float], start: datetime = T0, minutes: int = 30) -> Forecast:
    points = [
        Point(start + timedelta(minutes=minutes * i), minutes, v) for i, v in enumerate(values)
    ]
    return Forecast(points, "test", T0)


# ------------------------------------------------------------------ Forecast


def test_forecast_values_means_and_emissions():
    f = forecast_of([100.0, 300.0])
    assert f.end == T0 + timedelta(hours=1)
    assert f.resolution == timedelta(minutes=30)
    assert f.intensity_at(T0 + timedelta(minutes=45)) == 300.0
    assert f.mean_between(T0 + timedelta(minutes=15), T0 + timedelta(minutes=45)) == 200.0
    # 1 kW for 1 h at a mean of 200 g/kWh
    assert f.emissions_g(T0, T0 + timedelta(hours=1), 1000.0) == pytest.approx(200.0)
    # beyond the ends: first / last point's value
    assert f.emissions_g(T0 - timedelta(hours=1), T0, 1000.0) == pytest.approx(100.0)
    assert f.emissions_g(f.end, f.end + timedelta(hours=2), 500.0) == pytest.approx(300.0)
    assert f.intensity_at(T0 + timedelta(days=3)) == 300.0


def test_forecast_rejects_gaps_naive_times_and_nan():
    with pytest.raises(ValueError, match="contiguous"):
        Forecast([Point(T0, 30, 1.0), Point(T0 + timedelta(hours=1), 30, 1.0)], "x", T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        Forecast([Point(datetime(2026, 1, 1), 30, 1.0)], "x", T0)
    with pytest.raises(ValueError, match="finite"):
        Forecast([Point(T0, 30, math.nan)], "x", T0)
    with pytest.raises(ValueError, match="at least one"):
        Forecast([], "x", T0)


def test_forecast_json_round_trip():
    f = forecast_of([10.0, 20.5, 30.25])
    f.warning = "stale"
    back = Forecast.from_json(json.dumps(f.to_json()))
    assert back.points == f.points
    assert (back.source, back.fetched_at, back.warning) == ("test", T0, "stale")
    with pytest.raises(ValueError, match="not a cached forecast"):
        Forecast.from_json({"points": []})


def test_constant_provider_covers_the_range():
    f = ConstantProvider(123.0, resolution_minutes=15).forecast(
        T0 + timedelta(minutes=7), T0 + timedelta(hours=2)
    )
    assert f.start == T0 and f.end == T0 + timedelta(hours=2)
    assert {p.g_per_kwh for p in f.points} == {123.0}
    with pytest.raises(ProviderError, match="empty range"):
        ConstantProvider(1.0).forecast(T0, T0)


# ------------------------------------------------------------------ CSV trace


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "trace.csv"
    path.write_text(text)
    return path


GOOD_HEAD = "Time,Carbon Intensity\n2020-01-06 00:00:00,100\n2020-01-06 00:30:00,110\n"


@pytest.mark.parametrize(
    "line,message",
    [
        ("2020-01-06 01:00:00,abc", "not a number"),
        ("2020-01-06 01:00:00,-5", "negative"),
        ("2020-01-06 01:00:00,nan", "not finite"),
        ("2020-01-06 01:00:00,inf", "not finite"),
        ("2020-01-06 01:00:00,", "not a number"),
        ("yesterday,100", "not a timestamp"),
        ("2020-01-06 01:00:00,100,7", "expected 2 columns"),
        ("2020-01-06 00:00:00,100", "not after the previous row"),
        ("2020-01-06 02:00:00,100", "gap"),
        ("2020-01-06T01:00:00,100", "no UTC offset"),
    ],
)
def test_garbage_csv_line_is_named(tmp_path, line, message):
    path = write(tmp_path, GOOD_HEAD + line + "\n")
    with pytest.raises(ProviderError, match=message) as err:
        read_trace(path)
    assert f"{path}:4:" in str(err.value)  # header is line 1, the bad row line 4


def test_csv_header_empty_and_missing_file(tmp_path):
    with pytest.raises(ProviderError, match=r":1: header"):
        read_trace(write(tmp_path, "when,value\n2020-01-06 00:00:00,1\n"))
    with pytest.raises(ProviderError, match="no data rows"):
        read_trace(write(tmp_path, "Time,Carbon Intensity\n"))
    with pytest.raises(ProviderError, match="empty file"):
        read_trace(write(tmp_path, ""))
    with pytest.raises(ProviderError, match="cannot open"):
        read_trace(tmp_path / "missing.csv")
    (tmp_path / "bin.csv").write_bytes(b"Time,Carbon Intensity\n\xff\xfe,1\n")
    with pytest.raises(ProviderError, match="UTF-8"):
        read_trace(tmp_path / "bin.csv")


def test_csv_accepts_iso_offsets_and_skips_off_grid_rows(tmp_path):
    rows = read_trace(
        write(
            tmp_path,
            "Time,Carbon Intensity\n2020-01-06T01:00:00+01:00,100\n"
            "2020-01-06T00:15:00Z,999\n2020-01-06T00:30:00Z,110\n",
        )
    )
    assert rows == [
        (datetime(2020, 1, 6, 0, 0, tzinfo=UTC), 100.0),
        (datetime(2020, 1, 6, 0, 30, tzinfo=UTC), 110.0),
    ]


def test_sample_trace_is_four_weeks_from_a_monday():
    rows = read_trace(SAMPLE)
    assert len(rows) == 4 * 7 * 48
    assert rows[0][0] == datetime(2020, 1, 6, tzinfo=UTC) and rows[0][0].weekday() == 0


def test_replay_keeps_weekday_and_time_of_day():
    provider = CsvTraceProvider(SAMPLE)
    rows = dict(read_trace(SAMPLE))
    assert provider.period_steps == 4 * 7 * 48
    for when in [
        datetime(2026, 11, 28, 23, 10, tzinfo=UTC),  # a Saturday, years later
        datetime(2019, 2, 14, 6, 30, tzinfo=UTC),  # before the trace
        datetime(2020, 2, 3, 0, 0, tzinfo=UTC),  # the first Monday after: wraps around
    ]:
        f = provider.forecast(when, when + timedelta(days=9))  # longer than a week
        for point in f.points[::37]:
            source = next(t for t, v in rows.items() if v == point.g_per_kwh)
            assert source.weekday() == point.start.weekday()
            assert source.time() == point.start.time()
    wrap = datetime(2020, 2, 3, tzinfo=UTC)
    assert provider.value_at(wrap) == rows[datetime(2020, 1, 6, tzinfo=UTC)]


def test_trace_shorter_than_a_week_is_refused(tmp_path):
    with pytest.raises(ProviderError, match="shorter than one week"):
        CsvTraceProvider(write(tmp_path, GOOD_HEAD))


# ------------------------------------------------------------------ HTTP

Handler = Callable[[BaseHTTPRequestHandler], None]


@pytest.fixture
def server() -> Iterator[Callable[[Handler], str]]:
    """A real HTTP server on loopback; set(handler) returns its base URL."""
    box: dict[str, Handler] = {}
    seen: list[dict] = []

    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({"path": self.path, "headers": dict(self.headers)})
            box["handler"](self)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
    httpd.daemon_threads = True
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()

    def use(handler: Handler) -> str:
        box["handler"] = handler
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    use.seen = seen  # type: ignore[attr-defined]
    yield use
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def reply(body: bytes | str | object, status: int = 200, headers: dict | None = None) -> Handler:
    if not isinstance(body, bytes | str):
        body = json.dumps(body)
    data = body.encode() if isinstance(body, str) else body

    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    return handle


SDK_BODY = [
    {
        "location": "westus",
        "generatedAt": "2026-03-02T00:00:00Z",
        "forecastData": [
            {
                "location": "westus",
                "timestamp": "2026-03-02T00:00:00Z",
                "duration": 30,
                "value": 80,
            },
            {
                "location": "westus",
                "timestamp": "2026-03-02T00:30:00Z",
                "duration": 30,
                "value": 60.5,
            },
            {
                "location": "westus",
                "timestamp": "2026-03-02T01:00:00+00:00",
                "duration": 30,
                "value": 70,
            },
        ],
        "optimalDataPoints": [],
    }
]
EMAPS_BODY = {
    "zone": "DE",
    "forecast": [
        {"carbonIntensity": 300, "datetime": "2026-03-02T00:00:00.000Z"},
        {"carbonIntensity": 250, "datetime": "2026-03-02T01:00:00.000Z"},
        {"carbonIntensity": 200, "datetime": "2026-03-02T02:00:00.000Z"},
    ],
    "updatedAt": "2026-03-01T23:45:00.000Z",
}


def test_carbon_aware_sdk_shape(server):
    base = server(reply(SDK_BODY))
    provider = HttpProvider(base, api="carbon-aware-sdk", location="westus", token="t0k")
    f = provider.forecast(T0, T0 + timedelta(hours=2))
    assert [p.g_per_kwh for p in f.points] == [80.0, 60.5, 70.0]
    assert f.resolution == timedelta(minutes=30) and f.end == T0 + timedelta(minutes=90)
    request = server.seen[-1]
    assert request["path"].startswith("/emissions/forecasts/current?")
    assert parse_qs(urlsplit(request["path"]).query)["location"] == ["westus"]
    assert request["headers"]["Authorization"] == "Bearer t0k"


def test_electricity_maps_shape_and_token_header(server):
    base = server(reply(EMAPS_BODY))
    provider = HttpProvider(base + "/", api="electricity-maps", location="DE", token="secret")
    f = provider.forecast(T0, T0 + timedelta(hours=3))
    assert [(p.minutes, p.g_per_kwh) for p in f.points] == [(60, 300.0), (60, 250.0), (60, 200.0)]
    request = server.seen[-1]
    assert request["path"] == "/v3/carbon-intensity/forecast?zone=DE"
    assert request["headers"]["auth-token"] == "secret"


def test_timeout_on_a_sleeping_server(server):
    def slow(h: BaseHTTPRequestHandler) -> None:
        time.sleep(2.0)
        reply(EMAPS_BODY)(h)

    base = server(slow)
    provider = HttpProvider(base, api="electricity-maps", location="DE", timeout=0.3)
    started = time.monotonic()
    with pytest.raises(ProviderError, match="timed out"):
        provider.forecast(T0, T0 + timedelta(hours=1))
    assert time.monotonic() - started < 1.5


def test_slow_drip_body_hits_the_overall_timeout(server):
    def drip(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "100000")
        h.end_headers()
        for _ in range(40):
            h.wfile.write(b" " * 10)
            h.wfile.flush()
            time.sleep(0.1)

    base = server(drip)
    provider = HttpProvider(base, api="electricity-maps", location="DE", timeout=0.8)
    started = time.monotonic()
    with pytest.raises(ProviderError, match="timed out"):
        provider.forecast(T0, T0 + timedelta(hours=1))
    assert time.monotonic() - started < 2.5


def em(*pairs: tuple[str, object]) -> dict:
    """An Electricity Maps forecast body from (datetime, carbonIntensity) pairs."""
    return {"forecast": [{"datetime": t, "carbonIntensity": v} for t, v in pairs]}


def sdk(*items: tuple[str, object, object]) -> list:
    """A Carbon Aware SDK body from (timestamp, duration, value) triples."""
    return [{"forecastData": [{"timestamp": t, "duration": d, "value": v} for t, d, v in items]}]


A, B, C = "2026-03-02T00:00:00Z", "2026-03-02T00:30:00Z", "2026-03-02T02:00:00Z"
NAN_BODY = b'{"forecast":[{"datetime":"2026-03-02T00:00Z","carbonIntensity":NaN}]}'


@pytest.mark.parametrize(
    "api,body,message",
    [
        ("electricity-maps", b"<html>oops</html>", "not JSON"),
        ("electricity-maps", {"zone": "DE"}, "'forecast' is missing"),
        ("electricity-maps", {"forecast": []}, "missing or empty"),
        ("electricity-maps", em((A, "x")), "not a number"),
        ("electricity-maps", em((A, -1)), "negative"),
        ("electricity-maps", NAN_BODY, "not finite"),
        ("electricity-maps", em((C, 1), (A, 1)), "not after"),
        ("electricity-maps", em(("soon", 1)), "not a timestamp"),
        ("carbon-aware-sdk", {"forecastData": []}, "non-empty JSON list"),
        ("carbon-aware-sdk", [{"forecastData": []}], "missing or empty"),
        ("carbon-aware-sdk", sdk((A, 0, 1)), "duration"),
        ("carbon-aware-sdk", sdk((A, 30, True)), "not a number"),
        ("carbon-aware-sdk", sdk((A, 30, None)), "not a number"),
        ("carbon-aware-sdk", sdk((A, 30, 1), (C, 30, 1)), "gap or overlap"),
        ("carbon-aware-sdk", sdk((B, 30, 1), (A, 30, 1)), "not after"),
        ("carbon-aware-sdk", sdk(("2027-03-02T00:00:00Z", 30, 1)), "no forecast points between"),
    ],
)
def test_garbage_responses_are_provider_errors(server, api, body, message):
    base = server(reply(body))
    with pytest.raises(ProviderError, match=message):
        HttpProvider(base, api=api, location="X").forecast(T0, T0 + timedelta(hours=3))


@pytest.mark.parametrize("status", [401, 404, 429, 500, 503])
def test_non_200_is_a_provider_error(server, status):
    base = server(reply({"error": "no"}, status=status))
    with pytest.raises(ProviderError, match=f"HTTP {status}"):
        HttpProvider(base, api="electricity-maps", location="DE").forecast(T0, T0 + timedelta(1))


def test_oversize_response_is_refused_declared_or_not(server):
    big = json.dumps({"forecast": [], "pad": "x" * 3000})
    base = server(reply(big))
    provider = HttpProvider(base, api="electricity-maps", location="DE", max_bytes=1000)
    with pytest.raises(ProviderError, match="over the 1000-byte limit"):
        provider.forecast(T0, T0 + timedelta(hours=1))

    def chunked(h: BaseHTTPRequestHandler) -> None:  # no Content-Length: counted as read
        h.send_response(200)
        h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write(big.encode())

    server(chunked)
    with pytest.raises(ProviderError, match="over the 1000-byte limit"):
        provider.forecast(T0, T0 + timedelta(hours=1))


def test_redirects_same_host_followed_other_host_refused(server):
    def handler(h: BaseHTTPRequestHandler) -> None:
        if h.path.startswith("/v3/"):
            reply("", status=302, headers={"Location": "/moved/forecast"})(h)
        else:
            reply(EMAPS_BODY)(h)

    base = server(handler)
    f = HttpProvider(base, api="electricity-maps", location="DE").forecast(
        T0, T0 + timedelta(hours=1)
    )
    assert f.points[0].g_per_kwh == 300.0

    server(reply("", status=302, headers={"Location": "http://169.254.169.254/latest"}))
    with pytest.raises(ProviderError, match="refused redirect to another host"):
        HttpProvider(base, api="electricity-maps", location="DE").forecast(
            T0, T0 + timedelta(hours=1)
        )


def test_connection_refused_is_a_provider_error():
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = HttpProvider(
        f"http://127.0.0.1:{port}", api="electricity-maps", location="DE", timeout=1.0
    )
    with pytest.raises(ProviderError, match="request failed"):
        provider.forecast(T0, T0 + timedelta(hours=1))


def test_bad_configuration_is_refused_up_front():
    with pytest.raises(ValueError, match="api must be"):
        HttpProvider("http://x", api="watttime", location="a")
    with pytest.raises(ValueError, match="http"):
        HttpProvider("file:///etc/passwd", api="electricity-maps", location="a")
