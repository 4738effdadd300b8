"""bench/agent_overhead (GPU): tokens/s of the same training run launched through Forge
(console, Celery worker and beat, the node's agent supervising DeepSpeed's per-node
launcher, metrics streamed to the console) and launched by hand (``deepspeed`` runner
on the same entry point and the same spec), alternating, on one machine.

    python3 bench/agent_overhead.py --run "1b:gpus=1:zero=2:mb=8:ga=4:ckpt=0" \\
        --steps 30 --rounds 2

The console runs with its embedded defaults (SQLite, filesystem broker) in a fresh
folder; the corpus is random tokens in Forge's packed-shard format (bench/train.py).
The run is created through ``console.runs.services.run_create`` exactly as the API
does; the by-hand launch takes that run's stored spec (only the checkpoint folder
changed). Tokens/s is the median over the steps after the first two, as reported by
the loop on both sides (the agent's from the console's database). Prints a table.

``--energy`` also checks Forge's energy accounting of each agent-launched run: the
kWh the console integrates from the agent's NVML power samples over the run's
allocation (``console.energy``), against the GPUs' own energy counters
(``nvmlDeviceGetTotalEnergyConsumption``) read by this script every 0.25 s over the
same window: the anchor. ``--telemetry`` sets the agent's sampling interval.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from train import launch, parse_run, synthetic_corpus  # noqa: E402

PORT = 8011


class EnergyCounters:
    """The GPUs' cumulative energy counters (mJ), read every 0.25 s in a thread, so the
    energy of any wall-clock window can be read back by interpolation."""

    def __init__(self) -> None:
        import threading

        import pynvml

        pynvml.nvmlInit()
        self.nvml = pynvml
        count = pynvml.nvmlDeviceGetCount()
        self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        self.rows: list[tuple[float, list[int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            mj = [self.nvml.nvmlDeviceGetTotalEnergyConsumption(h) for h in self.handles]
            self.rows.append((time.time(), mj))
            self._stop.wait(0.25)

    def kwh(self, start: float, end: float, gpus: list[int]) -> float:
        def at(t: float, i: int) -> float:
            before = [r for r in self.rows if r[0] <= t]
            after = [r for r in self.rows if r[0] >= t]
            if not before or not after:
                raise ValueError("the window is outside the counters' readings")
            (t0, a), (t1, b) = before[-1], after[0]
            return a[i] if t1 == t0 else a[i] + (b[i] - a[i]) * (t - t0) / (t1 - t0)

        return sum(at(end, i) - at(start, i) for i in gpus) / 3.6e9

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def manage(*args: str, env: dict[str, str], log: Path) -> None:
    with open(log, "a") as out:
        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
        )


def wait(what: str, check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(1)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", default="1b:gpus=1:zero=2:mb=8:ga=4:ckpt=0")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    parser.add_argument("--energy", action="store_true", help="check energy accounting")
    parser.add_argument("--telemetry", type=float, default=None, help="agent sample interval")
    parser.add_argument("--no-hand", action="store_true", help="agent-launched runs only")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    run_args = parse_run(args.run)
    tmp = Path(tempfile.mkdtemp(prefix="forge-overhead-"))
    env = {
        **os.environ,
        "FORGE_VAR_DIR": str(tmp / "var"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "DJANGO_SETTINGS_MODULE": "console.settings.base",
        "FORGE_ADMIN_PASSWORD": "bench-only-password",
        "FORGE_WORKER_CONCURRENCY": "1",
        "WEB_CONCURRENCY": "1",
    }
    if args.telemetry:
        env["FORGE_AGENT_TELEMETRY_INTERVAL"] = str(args.telemetry)
    setup_log = args.out / "overhead-setup.log"
    manage("migrate", "--noinput", env=env, log=setup_log)
    manage("forge_setup", env=env, log=setup_log)
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from console.data.models import (
        Dataset,
        DatasetVersion,
        Origin,
        TokenizedCorpus,
        Tokenizer,
    )
    from console.fleet.models import Node
    from console.jobs.models import Job
    from console.metrics.selectors import metric_points
    from console.projects.models import Project
    from console.runs import services

    need = max(run_args["gpus"], 1) * run_args["mb"] * run_args["ga"] * (args.steps + 1)
    key = "corpora/bench"
    synthetic_corpus(Path(settings.FORGE_DATA_DIR) / key, seq_len=run_args["seq"], sequences=need)
    admin = get_user_model().objects.get(username="admin")
    project = Project.objects.create(slug="bench", name="Benchmarks")
    dataset = Dataset.objects.create(project=project, name="random", text_field="text")
    version = DatasetVersion.objects.create(
        dataset=dataset,
        number=1,
        origin=Origin.UPLOAD,
        storage_key="datasets/bench",
        sha256="0" * 64,
        bytes=1,
        documents=1,
    )
    tokenizer = Tokenizer.objects.create(
        project=project,
        name="random",
        version=version,
        vocab_size_requested=52_000,
        vocab_size=52_000,
        storage_key="tokenizers/bench",
        sha256="0" * 64,
    )
    corpus = TokenizedCorpus.objects.create(
        project=project,
        version=version,
        tokenizer=tokenizer,
        seq_len=run_args["seq"],
        dtype="uint16",
        val_fraction=0.02,
        total_tokens=need * run_args["seq"],
        train_tokens=need * run_args["seq"],
        val_tokens=0,
        sequences=need,
        shards=2,
        storage_key=key,
    )
    stack_log = open(args.out / "overhead-stack.log", "w")  # noqa: SIM115 - lives for the run
    stack = subprocess.Popen(
        [sys.executable, "manage.py", "run_stack", "--port", str(PORT)],
        cwd=ROOT,
        env=env,
        stdout=stack_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    cpu = run_args["gpus"] == 0  # a smoke test of this script on a machine without GPUs
    if cpu:
        os.environ["DS_ACCELERATOR"] = "cpu"  # for the by-hand launch (the agent sets its own)
    rows = []
    energy_rows = []
    counters = EnergyCounters() if args.energy else None
    try:
        wait(
            "the local agent",
            lambda: (
                Node.objects.filter(name="local", status="online").exists()
                and Node.objects.get(name="local").gpus.filter(present=True).count()
                >= run_args["gpus"]
            ),
            timeout=180,
        )
        for round_ in range(args.rounds):
            print(
                f"[{time.strftime('%H:%M:%S')}] round {round_ + 1}: through the agent", flush=True
            )
            started = time.time()
            run = services.run_create(
                actor=admin,
                project=project,
                corpus=corpus,
                preset=run_args["preset"],
                steps=args.steps,
                micro_batch=run_args["mb"],
                grad_accum=run_args["ga"],
                zero_stage=run_args["zero"],
                gpus_per_node=run_args["gpus"],
                checkpoint_every=10**6,
                eval_every=10**6,
                warmup_steps=1,
                bf16=cpu is False,
                activation_checkpointing=bool(run_args["ckpt"]),
                name=f"overhead round {round_ + 1}",
            )
            wait(
                "the run to end",
                lambda run=run: Job.objects.get(pk=run.job_id).is_terminal,
                timeout=900,
            )
            job = Job.objects.get(pk=run.job_id)
            steps, tps = metric_points(job_id=run.job_id, name="tokens_per_s")
            agent_tps = statistics.median(tps[2:]) if len(tps) > 2 else 0.0
            rows.append(
                {
                    "round": round_ + 1,
                    "how": "agent",
                    "state": job.state,
                    "steps": len(steps),
                    "tokens_per_s": round(agent_tps),
                    "wall_s": round(time.time() - started, 1),
                    "error": job.error[-500:],
                }
            )
            print(json.dumps(rows[-1]), flush=True)
            shutil.rmtree(Path(run.spec["checkpoint"]["dir"]), ignore_errors=True)
            if counters is not None:
                energy_rows.append(energy_check(job, counters))
                print(json.dumps(energy_rows[-1]), flush=True)
            if args.no_hand:
                continue

            print(f"[{time.strftime('%H:%M:%S')}] round {round_ + 1}: by hand", flush=True)
            spec = json.loads(json.dumps(run.spec))
            spec["checkpoint"]["dir"] = str(tmp / f"hand-{round_}")
            rc, records, wall = launch(
                spec,
                tmp / f"hand-work-{round_}",
                run_args["gpus"] or 1,
                29700 + round_,
                args.out / f"overhead-hand-{round_ + 1}.log",
            )
            metrics = [r["values"] for r in records if r["type"] == "metric"]
            hand_tps = (
                statistics.median(m["tokens_per_s"] for m in metrics[2:])
                if len(metrics) > 2
                else 0.0
            )
            rows.append(
                {
                    "round": round_ + 1,
                    "how": "by hand",
                    "state": "succeeded" if rc == 0 else f"exit {rc}",
                    "steps": len(metrics),
                    "tokens_per_s": round(hand_tps),
                    "wall_s": round(wall, 1),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
            shutil.rmtree(tmp / f"hand-{round_}", ignore_errors=True)
    finally:
        if counters is not None:
            counters.stop()
        os.killpg(stack.pid, signal.SIGTERM)
        try:
            stack.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
        stack_log.close()
    agent = [r["tokens_per_s"] for r in rows if r["how"] == "agent"]
    hand = [r["tokens_per_s"] for r in rows if r["how"] == "by hand"]
    print(f"\n{args.run}, {args.steps} steps, {args.rounds} rounds")
    print("round | through the agent (tokens/s) | by hand (tokens/s) | agent / hand")
    for a, h, r in zip(agent, hand, range(1, len(agent) + 1), strict=False):
        print(f"{r} | {a:,} | {h:,} | {a / h:.2%}" if h else f"{r} | {a:,} | - | -")
    if agent and hand and all(hand):
        ratio = statistics.median(agent) / statistics.median(hand)
        a, h = statistics.median(agent), statistics.median(hand)
        print(f"median | {a:,.0f} | {h:,.0f} | {ratio:.2%}")
    if energy_rows:
        print("\nround | Forge (NVML samples) kWh | GPU energy counters kWh | Forge / counters")
        for r, e in enumerate(energy_rows, 1):
            print(f"{r} | {e['forge_kwh']:.5f} | {e['counter_kwh']:.5f} | {e['ratio']:.2%}")
    (args.out / "overhead.json").write_text(json.dumps(rows + energy_rows, indent=1))
    return 0


def energy_check(job, counters: EnergyCounters) -> dict:
    """Forge's energy of ``job`` against the counters over its allocations' windows,
    once the agent's last telemetry is in (it uploads every few seconds)."""
    from console.energy.models import JobUsage
    from console.energy.services import job_usage_refresh
    from console.fleet.models import Allocation

    time.sleep(20)
    job_usage_refresh(job_id=job.pk)
    usage = JobUsage.objects.get(job=job)
    counter = 0.0
    for allocation in Allocation.objects.filter(job=job):
        end = allocation.released_at or allocation.created_at
        counter += counters.kwh(
            allocation.created_at.timestamp(), end.timestamp(), list(allocation.gpu_indices)
        )
    return {
        "how": "energy",
        "job": job.pk,
        "forge_kwh": usage.energy_kwh,
        "counter_kwh": counter,
        "ratio": usage.energy_kwh / counter if counter else 0.0,
        "method": usage.method,
        "samples": sum(p.get("samples", 0) for p in usage.breakdown),
        "seconds": sum(p.get("seconds", 0) for p in usage.breakdown),
        "gco2e": usage.gco2e,
        "cost": str(usage.cost),
    }


if __name__ == "__main__":
    raise SystemExit(main())
