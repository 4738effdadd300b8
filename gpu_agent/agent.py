"""The agent: spool, supervisor, uploader, registration, heartbeat, telemetry and
the queue consumer, started and stopped in order.

Start: open the spool (quarantined records from the previous run become pending
again), re-attach to the jobs it says are running, start uploading (output keeps
flowing into the spool and out to the console even before registration), then
register (retrying while the console is unreachable), then heartbeat, telemetry
and, in the calling thread, the queue consumer.

Stop (``stop`` event, set by SIGTERM/SIGINT): stop consuming, stop heartbeat and
telemetry, take the jobs' last output into the spool, try briefly to upload it,
and return. Running jobs keep running; the next agent re-attaches to them.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from gpu_agent import __version__, extensions
from gpu_agent.backoff import backoff_delay, jittered
from gpu_agent.console import ConsoleClient, ConsoleError, ConsoleUnavailable
from gpu_agent.consumer import LaunchHandler, QueueConsumer
from gpu_agent.hardware import HostLoad, NodeInventory, address_towards, node_inventory
from gpu_agent.power import PowerCap, PowerPolicy
from gpu_agent.spec import RegisterReply
from gpu_agent.spool import Spool
from gpu_agent.supervisor import INTERRUPTED_PREFIX, Supervisor
from gpu_agent.telemetry import GpuSource, Telemetry
from gpu_agent.uploader import Uploader

log = logging.getLogger("gpu_agent")


@dataclass(kw_only=True)
class AgentConfig:
    console_url: str
    token: str
    name: str
    work_dir: Path
    grace: float = 10.0  # seconds between SIGTERM and SIGKILL when a job is stopped
    telemetry_interval: float = 10.0
    poll_interval: float = 0.2  # how often job output is read
    flush_timeout: float = 3.0  # seconds spent uploading at shutdown
    # Stop running jobs when the agent stops (reported "interrupted": the console requeues
    # them). Off on real nodes, where jobs outlive an agent restart; on for `make run`.
    stop_jobs_on_exit: bool = False
    # Where the other nodes of a multi-node run reach this one; default: this host's
    # address on its route to the console.
    address: str = ""
    # This install's torch extensions folder (None: gpu_agent.extensions.default_dir).
    extensions_dir: Path | None = None
    # Build DeepSpeed's CPU op there at start when it is missing (in the background).
    prebuild: bool = True
    # Seconds a job may take to its first metric or progress record; 0: no limit.
    startup_timeout: float = 900.0
    # The folders jobs' specs may name besides the work dir (gpu_agent.roots); empty:
    # the storage folders the console names when the agent registers.
    roots: tuple[Path, ...] = ()


class Heartbeat:
    """Every ``interval`` s: POST heartbeat with the running jobs; stop what the reply lists;
    apply the power policy it carries (its report goes with the next heartbeat)."""

    def __init__(
        self,
        client: ConsoleClient,
        supervisor: Supervisor,
        uploader: Uploader,
        interval: float,
        power: PowerCap | None = None,
    ) -> None:
        self.client = client
        self.supervisor = supervisor
        self.uploader = uploader
        self.power = power
        self.interval = max(0.2, interval)
        self.status = ""
        self.last_error = ""
        self.host_load = HostLoad()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Heartbeat:
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def beat(self) -> None:
        try:
            reply = self.client.heartbeat(
                running=self.supervisor.running(),
                spool=self.uploader.status(),
                host=self.host_load.sample(),
                power=self.power.report() if self.power is not None else None,
                timeout=max(5.0, self.interval * 3),
            )
        except (ConsoleUnavailable, ConsoleError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            if error != self.last_error:
                level = logging.ERROR if isinstance(exc, ConsoleError) else logging.WARNING
                log.log(level, "heartbeat failed: %s", error)
            self.last_error = error
            return
        if self.last_error:
            log.info("heartbeat ok again")
            self.last_error = ""
        if reply.status != self.status:
            log.info("console sees this node as %s", reply.status)
            self.status = reply.status
        for item in reply.stop:
            try:
                job, attempt = int(item["job"]), int(item["attempt"])
            except (TypeError, KeyError, ValueError):
                log.warning("heartbeat reply: bad stop entry %r", item)
                continue
            self.supervisor.stop(job, attempt, "stopped by console")
        policy = PowerPolicy.from_wire(getattr(reply, "power", None))
        if self.power is not None and policy is not None:
            try:
                self.power.apply(policy)
            except Exception:
                log.exception("power policy failed")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.beat()
            except Exception:
                log.exception("heartbeat failed")
            self._stop.wait(self.interval)


def register(
    client: ConsoleClient,
    name: str,
    inventory: NodeInventory,
    stop: threading.Event,
    *,
    backoff_cap: float = 10.0,
    refused_backoff_cap: float = 60.0,
) -> RegisterReply | None:
    """Register, retrying until it works; None when ``stop`` was set first."""
    failures = 0
    while not stop.is_set():
        try:
            reply = client.register(
                name=name, agent_version=__version__, inventory=inventory.as_dict()
            )
        except ConsoleUnavailable as exc:
            failures += 1
            delay = backoff_delay(failures, base=0.5, cap=backoff_cap, max_doublings=8)
            if failures == 1 or failures % 10 == 0:
                log.warning("console unreachable (%s); retrying registration", exc)
        except (ConsoleError, ValueError) as exc:
            failures += 1
            delay = backoff_delay(failures, base=0.5, cap=refused_backoff_cap, max_doublings=8)
            log.error(
                "the console refused registration of node %r: %s (check the node's name and "
                "FORGE_NODE_TOKEN); retrying in %.0f s",
                name,
                exc,
                delay,
            )
        else:
            log.info(
                "registered as node %r: queue %s, heartbeat every %s s",
                reply.node,
                reply.queue,
                reply.heartbeat_seconds,
            )
            return reply
        stop.wait(jittered(delay, low=0.75))
    return None


def job_roots(cfg: AgentConfig, reply: RegisterReply) -> tuple[Path, ...]:
    """The work dir and the configured roots, else the console's storage folders."""
    extra = cfg.roots or tuple(Path(p) for p in reply.storage_roots)
    return (cfg.work_dir, *extra)


def prepare_extensions(cfg: AgentConfig) -> Path:
    """This install's torch extensions folder: stale build locks cleared now, and
    DeepSpeed's CPU op built in the background when it is missing (a job that needs it
    meanwhile waits on the build's lock, held by a live process)."""
    root = cfg.extensions_dir or extensions.default_dir(cfg.work_dir)
    root.mkdir(parents=True, exist_ok=True)
    log.info("compiled ops (TORCH_EXTENSIONS_DIR of jobs): %s", root)

    def work() -> None:
        try:
            extensions.clear_stale_locks(root)
            if not cfg.prebuild or extensions.built(root, "deepspeed_shm_comm"):
                return
            log.info("building DeepSpeed's CPU op in %s (in the background)", root)
            ok, last = extensions.prebuild(root)
            if ok:
                log.info("DeepSpeed's CPU op is built: %s", last)
            else:
                log.warning("DeepSpeed's CPU op could not be built ahead: %s", last)
        except Exception:
            log.exception("preparing compiled ops in %s failed", root)

    threading.Thread(target=work, name="extensions", daemon=True).start()
    return root


class Agent:
    def __init__(
        self,
        config: AgentConfig,
        *,
        gpu_source: GpuSource | None = None,
        power: PowerCap | None = None,
    ) -> None:
        self.config = config
        self.gpu_source = gpu_source
        self.power = power
        self.stop_event = threading.Event()

    def run(self) -> int:
        cfg = self.config
        cfg.work_dir.mkdir(parents=True, exist_ok=True)
        # One agent per work dir: two would tail the same jobs and send everything twice.
        lock_fd = os.open(cfg.work_dir / "agent.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(lock_fd)
            log.error("another agent is running on work dir %s; not starting", cfg.work_dir)
            return 1
        try:
            return self._run()
        finally:
            os.close(lock_fd)

    def _stop_jobs(self, supervisor: Supervisor) -> None:
        running = supervisor.running()
        log.info("stopping: interrupting %d running job(s)", len(running))
        for item in running:
            supervisor.stop(item["job"], item["attempt"], f"{INTERRUPTED_PREFIX} the agent stopped")
        deadline = time.monotonic() + self.config.grace + 5
        while supervisor.running() and time.monotonic() < deadline:
            time.sleep(0.1)

    def _run(self) -> int:
        cfg = self.config
        inventory = node_inventory(address=cfg.address or address_towards(cfg.console_url))
        log.info(
            "forge-agent %s on node %r: %s CPUs, %s MiB RAM, %s GPU(s)%s; work dir %s",
            __version__,
            cfg.name,
            inventory.cpu_count,
            inventory.memory_mib,
            len(inventory.gpus),
            f" ({inventory.nvml_error})" if inventory.nvml_error else "",
            cfg.work_dir,
        )
        for gpu in inventory.gpus:
            log.info(
                "GPU %s: %s, %s MiB, driver %s", gpu.index, gpu.model, gpu.memory_mib, gpu.driver
            )
        if not cfg.token:
            log.error("no node token: set FORGE_NODE_TOKEN (the console will refuse this agent)")

        spool = Spool(cfg.work_dir / "spool.sqlite3")
        released = spool.release_quarantine()
        if released:
            log.warning("retrying %d records the console refused before the restart", released)
        client = ConsoleClient(cfg.console_url, cfg.token)
        ext_dir = prepare_extensions(cfg)
        supervisor = Supervisor(
            spool,
            cfg.work_dir,
            grace=cfg.grace,
            poll_interval=cfg.poll_interval,
            extensions_dir=ext_dir,
            startup_timeout=cfg.startup_timeout,
        ).start()
        uploader = Uploader(
            spool, client, on_stop=lambda j, a: supervisor.stop(j, a, "stopped by console")
        ).start()
        heartbeat: Heartbeat | None = None
        telemetry: Telemetry | None = None
        power = self.power or PowerCap(state_path=cfg.work_dir / "power_cap.json")
        try:
            reply = register(client, cfg.name, inventory, self.stop_event)
            if reply is None:
                return 0
            supervisor.roots = job_roots(cfg, reply)
            log.info("jobs may use paths under %s", ", ".join(map(str, supervisor.roots)))
            heartbeat = Heartbeat(
                client, supervisor, uploader, reply.heartbeat_seconds, power=power
            ).start()
            telemetry = Telemetry(spool, self.gpu_source, interval=cfg.telemetry_interval).start()
            handler = LaunchHandler(spool, supervisor, node=reply.node or cfg.name)
            QueueConsumer(
                reply.broker_url,
                reply.broker_transport_options,
                reply.queue,
                handler,
                self.stop_event,
            ).run()
        finally:
            if cfg.stop_jobs_on_exit:
                self._stop_jobs(supervisor)
            else:
                log.info("stopping: running jobs keep running and are re-attached on restart")
            if heartbeat is not None:
                heartbeat.stop()
            if telemetry is not None:
                telemetry.stop()
            power.close()
            supervisor.shutdown()
            flushed = uploader.stop(flush_timeout=cfg.flush_timeout)
            left = spool.counts()
            spool.close()
            log.info(
                "agent stopped (%s; %d running job(s) left running)",
                "spool empty"
                if flushed and not left["quarantined"]
                else f"{left['pending']} pending, {left['quarantined']} quarantined in the spool",
                len(supervisor.running()),
            )
        return 0
