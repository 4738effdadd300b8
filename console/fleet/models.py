from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

POWER_CAP_MIN_WATTS = 50
POWER_CAP_MAX_WATTS = 2000


class Node(models.Model):
    """A GPU (or CPU) node running one Forge agent, reached through its queue node.<name>."""

    class Status(models.TextChoices):
        NEW = "new"  # created, agent never registered
        ONLINE = "online"
        OFFLINE = "offline"  # missed heartbeats

    class PriceTier(models.TextChoices):
        ON_DEMAND = "on_demand", "on demand"
        SPOT = "spot", "spot"
        RESERVED = "reserved", "reserved"

    class PowerCapMode(models.TextChoices):
        OFF = "off", "off"
        DRY_RUN = "dry_run", "dry run"
        ENFORCE = "enforce", "enforce"

    name = models.SlugField(max_length=64, unique=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.NEW, db_index=True
    )
    enabled = models.BooleanField(default=True, help_text="Disabled nodes get no new jobs.")
    hostname = models.CharField(max_length=255, blank=True)
    address = models.CharField(
        max_length=255,
        blank=True,
        help_text="Where the other nodes of a multi-node run reach this one "
        "(the agent's --address, else its host's address).",
    )
    cpu_count = models.PositiveIntegerField(default=0)
    memory_mib = models.PositiveBigIntegerField(default=0)
    platform = models.CharField(max_length=255, blank=True)
    agent_version = models.CharField(max_length=32, blank=True)
    nvml_error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    registered_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    offline_since = models.DateTimeField(null=True, blank=True)
    telemetry_seq = models.BigIntegerField(default=0, help_text="Last telemetry record ingested.")
    cpu_util = models.FloatField(null=True, blank=True, help_text="Host CPU %, last heartbeat.")
    mem_used_mib = models.PositiveBigIntegerField(null=True, blank=True)
    spool_pending = models.PositiveIntegerField(default=0, help_text="Records the agent holds.")
    spool_quarantined = models.PositiveIntegerField(default=0)
    # Power model and prices, for energy and cost accounting (read via the fleet selectors).
    cpu_power_watts = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(100_000.0)],
        help_text="Watts the node draws while a job runs on it, where NVML gives no GPU power "
        "(CPU-only nodes). Empty: the FORGE_CPU_NODE_WATTS setting.",
    )
    price_tier = models.CharField(
        max_length=16, choices=PriceTier.choices, default=PriceTier.ON_DEMAND
    )
    price_on_demand = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Per GPU-hour (per node-hour on a CPU-only node). Empty: FORGE_GPU_HOUR_PRICE.",
    )
    price_spot = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Per GPU-hour (per node-hour on a CPU-only node). Empty: FORGE_GPU_HOUR_PRICE.",
    )
    price_reserved = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Per GPU-hour (per node-hour on a CPU-only node). Empty: FORGE_GPU_HOUR_PRICE.",
    )
    # Power policy: a per-GPU power limit the agent sets through NVML, only when enabled.
    power_cap_mode = models.CharField(
        max_length=16,
        choices=PowerCapMode.choices,
        default=PowerCapMode.OFF,
        help_text="off: the agent leaves power limits alone (and restores the default once "
        "after enforce); dry run: it reports what it would set; enforce: it sets the cap.",
    )
    power_cap_watts = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[
            MinValueValidator(POWER_CAP_MIN_WATTS),
            MaxValueValidator(POWER_CAP_MAX_WATTS),
        ],
        help_text=f"Power limit per GPU, {POWER_CAP_MIN_WATTS}-{POWER_CAP_MAX_WATTS} W "
        "(clamped by the agent to what each GPU allows).",
    )
    power_cap_report = models.JSONField(
        default=dict, blank=True, help_text="What the agent last reported applying."
    )
    power_cap_reported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def queue(self) -> str:
        return f"node.{self.name}"


class NodeToken(models.Model):
    """A node's credential: only its SHA-256 is stored; scoped to one node; revocable."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="tokens")
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.node.name} ({self.prefix}…)"


class Gpu(models.Model):
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="gpus")
    index = models.PositiveSmallIntegerField()
    model = models.CharField(max_length=128)
    memory_mib = models.PositiveIntegerField(default=0)
    driver = models.CharField(max_length=64, blank=True)
    present = models.BooleanField(default=True, help_text="Reported at the last registration.")
    # latest sample, for the fleet table
    util = models.FloatField(null=True, blank=True)
    mem_used_mib = models.FloatField(null=True, blank=True)
    power_w = models.FloatField(null=True, blank=True)
    temp_c = models.FloatField(null=True, blank=True)
    sampled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["node", "index"]
        constraints = [
            models.UniqueConstraint(fields=["node", "index"], name="uniq_node_gpu_index")
        ]

    def __str__(self) -> str:
        return f"{self.node.name}/gpu{self.index}"


class GpuSample(models.Model):
    """Telemetry. Raw samples (resolution 0) are later folded into per-minute and
    per-15-minute rows (avg of util/memory/power/temperature, max util kept)."""

    gpu = models.ForeignKey(Gpu, on_delete=models.CASCADE, related_name="samples")
    at = models.DateTimeField()
    resolution_seconds = models.PositiveIntegerField(default=0)
    util = models.FloatField()
    util_max = models.FloatField()
    mem_used_mib = models.FloatField()
    power_w = models.FloatField()
    temp_c = models.FloatField()

    class Meta:
        indexes = [
            models.Index(fields=["gpu", "at"]),
            models.Index(fields=["resolution_seconds", "at"]),
        ]

    def __str__(self) -> str:
        return f"gpu {self.gpu_id} at {self.at:%Y-%m-%d %H:%M:%S}"


class Allocation(models.Model):
    """One attempt of a job placed on a node, holding GPUs exclusively until released.

    ``attempt`` is the lease (fencing token) the agent receives with the launch. A
    multi-node attempt has one allocation per node, ``node_rank`` 0..M-1, placed all
    or none; rank 0's node hosts the rendezvous at ``master_port``, and the attempt
    succeeds once every node reported success (``outcome``)."""

    job = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="allocations")
    attempt = models.PositiveIntegerField()
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="allocations")
    node_rank = models.PositiveSmallIntegerField(default=0)
    master_port = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, blank=True, help_text="What its node reported.")
    gpu_indices = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "attempt", "node_rank"], name="uniq_allocation_job_attempt_rank"
            ),
            models.UniqueConstraint(
                fields=["job", "attempt", "node"], name="uniq_allocation_job_attempt_node"
            ),
        ]

    def __str__(self) -> str:
        return f"job {self.job_id}#{self.attempt} rank {self.node_rank} on {self.node_id}"


class AllocatedGpu(models.Model):
    """A GPU held by an allocation. The partial unique index makes double booking
    impossible: two dispatches racing for the last GPU cannot both insert."""

    allocation = models.ForeignKey(Allocation, on_delete=models.CASCADE, related_name="held")
    gpu = models.ForeignKey(Gpu, on_delete=models.CASCADE, related_name="held_by")
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["gpu"], condition=Q(active=True), name="uniq_active_gpu"
            )
        ]

    def __str__(self) -> str:
        return f"gpu {self.gpu_id} for allocation {self.allocation_id}"


class JobStream(models.Model):
    """Ingest bookkeeping for one job attempt's record stream on one node (a multi-node
    attempt has one per node): the last seq applied.

    Records arrive in seq order per stream; anything at or below last_seq is a
    duplicate and is skipped, so a re-sent batch inserts nothing twice."""

    job = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="streams")
    attempt = models.PositiveIntegerField()
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="streams")
    last_seq = models.BigIntegerField(default=0)
    records = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["job", "attempt", "node"], name="uniq_stream_job_attempt_node"
            )
        ]

    def __str__(self) -> str:
        return f"stream {self.job_id}#{self.attempt} at seq {self.last_seq}"


class StackDump(models.Model):
    """The Python stacks of a job attempt's processes on one node, read by its agent
    when the job gave no first record within its start-up limit or when its metrics
    stalled (gpu_agent/stacks.py): a hang, readable without a shell on the node."""

    job = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="stack_dumps")
    attempt = models.PositiveIntegerField()
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    captured_at = models.DateTimeField(help_text="When the agent read them (never in the future).")
    reason = models.CharField(max_length=1000)
    processes = models.JSONField(
        default=list, help_text='[{"pid", "label", "method", "text"}], ranks first.'
    )

    class Meta:
        ordering = ["-captured_at", "-id"]
        indexes = [models.Index(fields=["job", "captured_at"], name="fleet_stacks_job_at")]

    def __str__(self) -> str:
        return f"stacks of job {self.job_id}#{self.attempt} at {self.captured_at:%H:%M:%S}"
