"""bench/carbon: emission savings of Forge's planner vs starting every job on arrival.

    .venv/bin/python bench/carbon.py --trace ../shared/data/carbon/gb_2020_ci.csv
    .venv/bin/python bench/carbon.py --trace ../shared/data/carbon/fr_2020_ci.csv --country fr
    .venv/bin/python bench/carbon.py --trace ... --seeds 2 --jobs 300       # a quick look

Replays ``console.carbon.engine.plan`` on the ML-training scenario (Scenario II) of Wiesner
et al., "Let's Wait Awhile: How Temporal Workload Shifting Can Reduce Carbon Emissions in
the Cloud", Middleware '21, as its code defines it (dos-group/lets-wait-awhile, simulate.py
and strategy.py):

- jobs: 3,387, numpy ``default_rng(0)``; a multinomial spread over the workdays (Mon-Fri)
  of 2020, arrival times uniform over 09:00-16:30 in 30-minute steps, durations uniform
  over 4 h to 89.5 h in 30-minute steps (``range(240, 5400, 30)``). Drawn call for call as
  the paper's ``generate_batch_jobs`` does, so the job list is the same.
- trace: the CSV's rows on the 30-minute grid (the paper keeps ``minute % 30 == 0``), from
  2020-01-01 00:00 to the end of the file.
- deadline ("next_workday", the paper's ``_forecast_duration``): the original finish time
  (arrival + duration), or when that is on a Saturday 09:00 two days later, on a Sunday or
  after 17:00 09:00 the next day, before 09:00 09:00 that day. As in the paper's code, a
  Friday finish after 17:00 gets Saturday 09:00.
- forecast error: Gaussian noise, standard deviation ``error x mean(trace)``, added to the
  whole trace with ``default_rng(seed)`` for seeds 0-9 (the paper's ``_apply_error``); the
  planner sees the noisy series, emissions are counted on the true one; the savings are
  averaged over the seeds (the paper averages the load timelines, the same thing here).
- baseline (anchor): every job starts on arrival and runs straight through, true trace.
- savings: 1 - sum(emissions of the plans) / sum(emissions of the baseline), constant power.

Where Forge's planner and the paper's differ (both printed): Forge finishes by the deadline;
the paper's forecast window ends *at* the deadline inclusive, so its last start slot ends
30 minutes after it (``--paper-window`` gives Forge that slot too). The paper's baseline
takes the lower of "on arrival" and "30 minutes later"; here it is strictly on arrival.
Pure Python, no Django. Prints the table last; ``--json PATH`` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console.carbon.engine import Forecast, Point, emissions_of, plan, read_trace

SLOT_MIN = 30
YEAR_START = datetime(2020, 1, 1, tzinfo=UTC)
ERROR_SEEDS = 10
# The paper's Scenario II figures (abstract / section 6): savings of the ML jobs with the
# next-workday constraint; the lower figure for non-interruptible, the higher for
# interruptible jobs.
PAPER = {"gb": {False: 6.6, True: 9.0}, "fr": {False: 4.8, True: 5.9}}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def paper_jobs(n: int = 3387) -> list[tuple[datetime, int]]:
    """(arrival, duration in minutes): the paper's generate_batch_jobs, draw for draw."""
    rng = np.random.default_rng(0)
    durations_pool = np.arange(4 * 60, 90 * 60, SLOT_MIN)
    start_pool = np.arange(9 * 60, 17 * 60, SLOT_MIN)
    days = [YEAR_START + timedelta(days=i) for i in range(366)]  # 2020-01-01 .. 2020-12-31
    usable = [d for d in days if d.weekday() <= 4]
    per_day = dict(zip(usable, rng.multinomial(n, [1 / len(usable)] * len(usable)), strict=True))
    arrivals = []
    for day in days:
        count = int(per_day.get(day, 0))
        minutes = np.sort(rng.choice(start_pool, size=count))
        arrivals += [day + timedelta(minutes=int(m)) for m in minutes]
    durations = rng.choice(durations_pool, size=n)
    return [(a, int(d)) for a, d in zip(arrivals, durations, strict=True)]


def next_workday(finish: datetime) -> datetime:
    """The paper's "next_workday" deadline for an original finish time."""
    nine = finish.replace(hour=9, minute=0, second=0)
    hour = finish.hour + (0.5 if finish.minute == 30 else 0)
    weekday = finish.weekday()
    if weekday == 5:
        return nine + timedelta(days=2)
    if weekday == 6 or hour > 17:
        return nine + timedelta(days=1)
    if hour < 9:
        return nine
    return finish


def to_forecast(times: list[datetime], values: np.ndarray, source: str) -> Forecast:
    points = [Point(t, SLOT_MIN, float(v)) for t, v in zip(times, values, strict=True)]
    return Forecast(points, source, datetime.now(UTC))


def paper_reference(
    jobs: list[tuple[datetime, int]], ci: np.ndarray, seen: np.ndarray, *, interruptible: bool
) -> float:
    """Savings of the paper's own AdHocStrategy re-run here on the same jobs, trace and noise
    (its forecast window includes the deadline's slot; its baseline may start 30 minutes late
    when that is lower). A reference for the published figures, not Forge's code."""
    planned = baseline = 0.0
    for arrival, minutes in jobs:
        i0 = int((arrival - YEAR_START) / timedelta(minutes=SLOT_MIN))
        d = minutes // SLOT_MIN
        base = ci[i0 : i0 + d + 1]
        base_means = np.convolve(base, np.ones(d), "valid")  # forecast_method=0, no error
        b = int(np.argmin(base_means))
        baseline += ci[i0 + b : i0 + b + d].sum()
        deadline = next_workday(arrival + timedelta(minutes=minutes))
        f = d + int((deadline - arrival - timedelta(minutes=minutes)) / timedelta(minutes=30))
        window = seen[i0 : i0 + f + 1]
        if interruptible:
            worst = np.sort(window)[d - 1]
            planned += ci[i0 + np.nonzero(window <= worst)[0]].sum()
        else:
            k = int(np.argmin(np.convolve(window, np.ones(d), "valid")))
            planned += ci[i0 + k : i0 + k + d].sum()
    return 100.0 * (1.0 - planned / baseline)


def run_case(
    jobs: list[tuple[datetime, int]],
    true: Forecast,
    seen: Forecast,
    *,
    interruptible: bool,
    extra: timedelta,
    trace_end: datetime,
) -> dict:
    planned = baseline = 0.0
    shifted = 0
    t0 = time.perf_counter()
    for arrival, minutes in jobs:
        duration = timedelta(minutes=minutes)
        deadline = min(next_workday(arrival + duration) + extra, trace_end)
        deadline = max(deadline, arrival + duration)
        result = plan(
            seen,
            now=arrival,
            duration=duration,
            deadline=deadline,
            interruptible=interruptible,
            watts=1000.0,
        )
        planned += emissions_of(result.windows, true, 1000.0)
        baseline += true.emissions_g(arrival, arrival + duration, 1000.0)
        shifted += result.start != arrival or len(result.windows) > 1
    elapsed = time.perf_counter() - t0
    return {
        "savings_pct": 100.0 * (1.0 - planned / baseline),
        "planned_kg": planned / 1000.0,
        "baseline_kg": baseline / 1000.0,
        "shifted": shifted,
        "ms_per_plan": 1000.0 * elapsed / len(jobs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trace", type=Path, required=True, help="Time,Carbon Intensity CSV")
    parser.add_argument("--country", help="gb or fr: which paper figures to show (from name)")
    parser.add_argument("--jobs", type=int, default=3387)
    parser.add_argument("--errors", default="0,0.05")
    parser.add_argument("--seeds", type=int, default=ERROR_SEEDS, help="seeds per error > 0")
    parser.add_argument(
        "--paper-window",
        action="store_true",
        help="allow one more 30-minute slot after the deadline, as the paper's code does",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--no-reference", action="store_true", help="skip re-running the paper's own strategy"
    )
    args = parser.parse_args()
    country = (args.country or args.trace.name[:2]).lower()
    paper = PAPER.get(country)

    rows = [(t, v) for t, v in read_trace(args.trace, step_minutes=SLOT_MIN) if t >= YEAR_START]
    times = [t for t, _ in rows]
    ci = np.array([v for _, v in rows])
    true = to_forecast(times, ci, "true")
    trace_end = true.end
    jobs = paper_jobs() if args.jobs == 3387 else paper_jobs()[: args.jobs]
    extra = timedelta(minutes=SLOT_MIN) if args.paper_window else timedelta(0)
    log(
        f"{args.trace.name}: {len(ci)} slots from {times[0]:%Y-%m-%d} to {trace_end:%Y-%m-%d}, "
        f"mean {ci.mean():.1f} g/kWh; {len(jobs)} jobs"
    )

    results = []
    for interruptible in (False, True):
        for error in [float(e) for e in args.errors.split(",") if e]:
            seeds = list(range(args.seeds)) if error else [None]
            runs, reference = [], []
            for seed in seeds:
                if seed is None:
                    values, seen = ci, true
                else:
                    noise = np.random.default_rng(seed).normal(0, error * ci.mean(), size=len(ci))
                    values = ci + noise
                    seen = to_forecast(times, values, f"noisy:{seed}")
                runs.append(
                    run_case(
                        jobs,
                        true,
                        seen,
                        interruptible=interruptible,
                        extra=extra,
                        trace_end=trace_end,
                    )
                )
                if not args.no_reference:
                    reference.append(paper_reference(jobs, ci, values, interruptible=interruptible))
            savings = [r["savings_pct"] for r in runs]
            row = {
                "interruptible": interruptible,
                "error": error,
                "seeds": len(runs),
                "savings_pct": float(np.mean(savings)),
                "savings_min": min(savings),
                "savings_max": max(savings),
                "baseline_kg": runs[0]["baseline_kg"],
                "planned_kg": float(np.mean([r["planned_kg"] for r in runs])),
                "shifted": runs[0]["shifted"],
                "ms_per_plan": float(np.mean([r["ms_per_plan"] for r in runs])),
                "paper_pct": paper[interruptible] if paper else None,
                "paper_code_here_pct": float(np.mean(reference)) if reference else None,
            }
            results.append(row)
            log(f"interruptible={interruptible} error={error}: {row['savings_pct']:.2f}%")

    print(
        f"\ncarbon: {args.trace.name}, {len(jobs)} ML jobs, next-workday deadline"
        + (", paper's inclusive window" if args.paper_window else "")
    )
    print(
        "| jobs | forecast error | Forge: savings vs on arrival | (seed range) | paper | met | "
        "paper's code, this data | ms/plan |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        kind = "interruptible" if r["interruptible"] else "non-interruptible"
        spread = f"{r['savings_min']:.2f}-{r['savings_max']:.2f}" if r["seeds"] > 1 else "—"
        if r["paper_pct"] is None:
            ref, met = "—", "—"
        else:
            ref = f"{r['paper_pct']:.1f}%"
            met = "met" if r["savings_pct"] >= r["paper_pct"] else "NOT met"
        here = r["paper_code_here_pct"]
        here = "—" if here is None else f"{here:.2f}%"
        print(
            f"| {kind} | {100 * r['error']:.0f}% | **{r['savings_pct']:.2f}%** | {spread} | "
            f"{ref} | {met} | {here} | {r['ms_per_plan']:.2f} |"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "trace": str(args.trace),
                    "paper_window": args.paper_window,
                    "jobs": len(jobs),
                    "rows": results,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
