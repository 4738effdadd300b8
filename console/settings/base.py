"""Forge settings, read from the environment by one loud reader (console.env).

With no environment at all Forge runs on embedded defaults: SQLite under var/ and
kombu's filesystem broker under var/broker/. DATABASE_URL and REDIS_URL switch it
to PostgreSQL and Redis with no code change.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from console.env import Env, parse_database_url, secret_key_from_file, sqlite_database

env = Env()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = env.path("FORGE_VAR_DIR", BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)
FORGE_DATA_DIR = env.path("FORGE_DATA_DIR", VAR_DIR / "data")
# Training runs write their checkpoints (and TensorBoard logs) under <this>/<run id>: a
# folder every node of a run can reach (shared storage for multi-node runs).
FORGE_RUNS_DIR = env.path("FORGE_RUNS_DIR", FORGE_DATA_DIR / "runs")
# Model versions (Hugging Face folders, one per job); the playground generates in the
# web process only for versions up to FORGE_PLAYGROUND_MAX_BYTES on disk.
FORGE_MODELS_DIR = env.path("FORGE_MODELS_DIR", FORGE_DATA_DIR / "models")
FORGE_PLAYGROUND_MAX_BYTES = env.int("FORGE_PLAYGROUND_MAX_BYTES", 2 * 1024**3, min=1)
# Feedback on a version's answers (registry.feedback): the longest prompt, output or
# correction one rating may carry, in characters.
FORGE_FEEDBACK_MAX_CHARS = env.int("FORGE_FEEDBACK_MAX_CHARS", 32_000, min=1)
# Deployment bundles (console.cards): the serving image, the PersistentVolumeClaim that holds
# FORGE_MODELS_DIR in the cluster (unset: a read-only hostPath of FORGE_MODELS_DIR), and the
# memory of one GPU, from which the bundle derives the tensor-parallel GPU count.
FORGE_DEPLOY_SERVING_IMAGE = env.str("FORGE_DEPLOY_SERVING_IMAGE", "vllm/vllm-openai:v0.8.5")
FORGE_DEPLOY_MODEL_VOLUME = env.str("FORGE_DEPLOY_MODEL_VOLUME", "")
FORGE_DEPLOY_GPU_MEMORY_GIB = env.int("FORGE_DEPLOY_GPU_MEMORY_GIB", 80, min=1)
# Data: server-side paths may be registered as datasets only under this root (unset: none);
# uploads larger than FORGE_DATA_MAX_UPLOAD_BYTES are refused (413) before they fill a disk.
FORGE_DATA_IMPORT_ROOT = (
    env.path("FORGE_DATA_IMPORT_ROOT") if env.str("FORGE_DATA_IMPORT_ROOT", "") else None
)
FORGE_DATA_MAX_UPLOAD_BYTES = env.int("FORGE_DATA_MAX_UPLOAD_BYTES", 2 * 1024**3, min=1)

SECRET_KEY = env.str("FORGE_SECRET_KEY", "") or secret_key_from_file(VAR_DIR / "secret_key")
DEBUG = env.bool("FORGE_DEBUG", False)
ALLOWED_HOSTS = env.list("FORGE_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("FORGE_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "console.core",
    "console.accounts",
    "console.projects",
    "console.audit",
    "console.jobs",
    "console.fleet",
    "console.metrics",
    "console.data",
    "console.runs",
    "console.alerts",
    "console.registry",
    "console.policies",
    "console.governance",
    "console.carbon",
    "console.energy",
    "console.home",
]

# The job lifecycle's effects, in the order they run (console/core/effects.py says when
# and how each event's functions are called). This list is the whole of what happens
# at these moments: no app appends to it from its ready().
LIFECYCLE_EFFECTS: dict[str, list[str]] = {
    # A job left dispatched/running (requeued, paused, finished), inside that transaction.
    "job_left_active": [
        "console.fleet.services.allocations.allocation_release_for_job",  # its GPUs are free again
        "console.data.services.data_job_left_active",  # a data job's output is registered
        "console.registry.services.model_job_left_active",  # a model job's version/evaluation
        "console.governance.services.review_check_left_active",  # a check's result
        # on commit, so after fleet released the GPUs: energy, emissions and cost
        "console.energy.services.job_left_active",
    ],
    # A job is about to move queued -> scheduled (the row locked).
    "before_schedule": [
        "console.carbon.services.job_plan_on_schedule",  # a carbon-aware job's plan
    ],
    # Ingest: a job's stream announced a complete checkpoint.
    "checkpoint": [
        "console.runs.services.run_checkpoint_announced",  # registered with its run
    ],
    # Ingest: one batch of a job attempt's metrics.
    "metrics": [
        "console.alerts.evaluate.on_metrics",  # checked against the run's alert rules
    ],
    # run_create stored a run and its job.
    "run_created": [
        "console.alerts.services.rules_create_defaults",  # the run's default alert rules
    ],
}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "console.core.middleware.RequestContextMiddleware",
    "console.core.middleware.NulQueryMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "console.audit.middleware.CrossProjectNotFoundAuditMiddleware",
    "console.core.middleware.UserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "console.core.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "console.urls"
WSGI_APPLICATION = "console.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "console.core.context_processors.forge",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]

_database_url = env.str("DATABASE_URL", "")
DATABASES = {
    "default": parse_database_url("DATABASE_URL", _database_url)
    if _database_url
    else sqlite_database(VAR_DIR / "forge.sqlite3")
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["console.accounts.backends.LockoutModelBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Lockout (S11, S15), in three namespaces: passwords, user tokens, node tokens. N failures
# within the window for one credential (a username, a token's prefix) from one address
# lock that pair; ADDRESS_FAILURES token failures of any kind from one address lock the
# address for failing tokens. A valid token always works; a locked password pair refuses
# even the right password from that address (see console/accounts/services.py).
FORGE_LOCKOUT_FAILURES = env.int("FORGE_LOCKOUT_FAILURES", 5, min=1)
FORGE_LOCKOUT_ADDRESS_FAILURES = env.int("FORGE_LOCKOUT_ADDRESS_FAILURES", 20, min=1)
FORGE_LOCKOUT_WINDOW_SECONDS = env.int("FORGE_LOCKOUT_WINDOW_SECONDS", 900, min=1)
# Reverse proxies whose X-Forwarded-For is believed (addresses or CIDRs); empty: the
# client's address is REMOTE_ADDR, whatever headers say.
FORGE_TRUSTED_PROXIES = env.networks("FORGE_TRUSTED_PROXIES", [])

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "console.core.views.csrf_failure"
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024  # agents' ingest batches are up to 8 MiB
# Files over this spool to a temporary file instead of memory. Dataset uploads never
# reach Django's handlers: console.data.uploads streams them straight under FORGE_DATA_DIR.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# ---------------------------------------------------------------- REST API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "console.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["console.core.permissions.IsMember"],
    "DEFAULT_PAGINATION_CLASS": "console.core.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "console.audit.exceptions.exception_handler",
    # Answers carry storage-relative paths only (console.core.redact).
    "DEFAULT_RENDERER_CLASSES": ["console.core.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Forge API",
    "DESCRIPTION": "Automation API of the Forge console. "
    "Authenticate with `Authorization: Token <key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["console.core.permissions.IsMember"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # <id:...> in routes (console.core.ids.IdConverter): a row id, 1 to 2**63 - 1.
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 2**63 - 1}
    },
    # Several models have a "kind" or "status" field with their own choices: name each.
    "ENUM_NAME_OVERRIDES": {
        "AuthFailureKindEnum": "console.accounts.models.AuthFailure.Kind",
        "AlertRuleKindEnum": "console.alerts.models.RuleKind",
        "ModelVersionKindEnum": "console.registry.models.Kind",
        "ModelVersionStatusEnum": "console.registry.models.Status",
        "EvaluationKindEnum": "console.registry.models.EvalKind",
        "NodeStatusEnum": "console.fleet.models.Node.Status",
        "DatasetKindEnum": "console.data.models.DatasetKind",
        "FeedbackSentimentEnum": "console.registry.models.Sentiment",
        "FeedbackScaleEnum": "console.registry.models.RatingScale",
        "FeedbackSourceEnum": "console.registry.models.FeedbackSource",
    },
}

# ---------------------------------------------------------------- Celery
REDIS_URL = env.redis_url("REDIS_URL")
BROKER_DIR = env.path("FORGE_BROKER_DIR", VAR_DIR / "broker")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {
        "visibility_timeout": 3600,
        "global_keyprefix": env.str("FORGE_BROKER_PREFIX", ""),
    }
else:
    # kombu's filesystem transport: every process that shares var/broker/ shares
    # the queues, with no server to run. See README "Embedded broker".
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(BROKER_DIR / "control"),
        "polling_interval": 0.2,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("FORGE_TASK_SOFT_TIME_LIMIT", 6 * 3600, min=1)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 300
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TASK_ALWAYS_EAGER = False

# Jobs core: how the reconciler judges silence.
FORGE_JOB_HEARTBEAT_TIMEOUT = env.int("FORGE_JOB_HEARTBEAT_TIMEOUT", 90, min=5)
FORGE_JOB_REENQUEUE_AFTER = env.int("FORGE_JOB_REENQUEUE_AFTER", 60, min=1)
FORGE_RECONCILE_INTERVAL = env.int("FORGE_RECONCILE_INTERVAL", 10, min=1)


def _env_float(name: str, default: float, *, low: float, high: float) -> float:
    raw = env.str(name, str(default))
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise ImproperlyConfigured(f"{name}={raw!r} must be a number from {low} to {high}.")
    return value


# Run approval policies (console.policies): a run's estimated cost is its GPU-hours x
# FORGE_GPU_HOUR_PRICE; its hours assume FORGE_ESTIMATE_MFU of the GPUs' peak FLOP/s.
FORGE_GPU_HOUR_PRICE = _env_float("FORGE_GPU_HOUR_PRICE", 2.5, low=0.0, high=1e6)
FORGE_ESTIMATE_MFU = _env_float("FORGE_ESTIMATE_MFU", 0.4, low=0.01, high=1.0)
# Energy of jobs on nodes without NVML power readings (CPU-only nodes): this many watts
# while a job runs, unless the node sets its own (Node.cpu_power_watts).
FORGE_CPU_NODE_WATTS = _env_float("FORGE_CPU_NODE_WATTS", 200.0, low=1.0, high=100000.0)
# The currency jobs' costs are shown in (console.energy): 1-8 characters, no spaces.
FORGE_CURRENCY = env.str("FORGE_CURRENCY", "") or "USD"
if not 1 <= len(FORGE_CURRENCY) <= 8 or FORGE_CURRENCY.split() != [FORGE_CURRENCY]:
    raise ImproperlyConfigured(
        f"FORGE_CURRENCY={FORGE_CURRENCY!r} must be 1-8 characters with no spaces (e.g. EUR)."
    )

# Governance: the toxicity check's lexicon is extended by this file's
# "term<TAB>weight" lines (Forge ships no slur list; see console/governance/checks).
FORGE_TOXICITY_LEXICON = env.str("FORGE_TOXICITY_LEXICON", "")
# Evidence files attached to review items are refused above this size.
FORGE_GOVERNANCE_MAX_FILE_BYTES = env.int(
    "FORGE_GOVERNANCE_MAX_FILE_BYTES", 20 * 1024 * 1024, min=1
)

# Fleet: agents heartbeat every FORGE_NODE_HEARTBEAT_SECONDS; a node is offline
# after FORGE_NODE_OFFLINE_AFTER seconds of silence, and its jobs are lost (and
# handed to their retry policy) FORGE_NODE_LOST_AFTER seconds after that.
FORGE_NODE_HEARTBEAT_SECONDS = env.int("FORGE_NODE_HEARTBEAT_SECONDS", 3, min=1)
FORGE_NODE_OFFLINE_AFTER = env.int("FORGE_NODE_OFFLINE_AFTER", 20, min=2)
FORGE_NODE_LOST_AFTER = env.int("FORGE_NODE_LOST_AFTER", 60, min=0)
# TCP ports a multi-node run's rank-0 node may listen on for its rendezvous
# (torch.distributed's store): open them between the GPU nodes.
FORGE_RENDEZVOUS_PORTS = (
    env.int("FORGE_RENDEZVOUS_PORT_MIN", 29500, min=1024, max=65535),
    env.int("FORGE_RENDEZVOUS_PORT_MAX", 29999, min=1024, max=65535),
)
# The broker URL agents are told to use, when it differs from the console's own
# view of it (e.g. redis://redis.internal:6379/0 for nodes outside the cluster).
FORGE_AGENT_BROKER_URL = env.str("FORGE_AGENT_BROKER_URL", "")

# Alerts on training runs (console.alerts): the webhook every run's alerts go to unless
# the run names its own; the console's address for the links they carry; how often
# the beat task checks GPU utilisation and stalled metrics; how long a process keeps
# its cache of runs' rules. A webhook to a loopback, link-local or private address is
# refused (RELIABILITY.md S9) unless its host (or host:port) is allowed here.
FORGE_ALERT_WEBHOOK_URL = env.str("FORGE_ALERT_WEBHOOK_URL", "")
FORGE_ALERT_BASE_URL = env.str("FORGE_ALERT_BASE_URL", "")
FORGE_ALERT_EVALUATE_SECONDS = env.int("FORGE_ALERT_EVALUATE_SECONDS", 30, min=5)
FORGE_ALERT_RULE_CACHE_SECONDS = env.int("FORGE_ALERT_RULE_CACHE_SECONDS", 10, min=0)
FORGE_WEBHOOK_ALLOWED_HOSTS = env.list("FORGE_WEBHOOK_ALLOWED_HOSTS", [])
FORGE_WEBHOOK_TIMEOUT = env.int("FORGE_WEBHOOK_TIMEOUT", 10, min=1)
# Carbon-aware scheduling (console.carbon): where the grid's carbon intensity comes from.
# FORGE_CARBON_PROVIDER: "trace" (a CSV of Time,Carbon Intensity replayed by weekday and
# time of day; default the sample trace shipped with Forge), "http" (a Carbon Aware SDK
# or Electricity Maps compatible endpoint) or "constant". Whatever the provider, the
# console never waits on it: the last good forecast, else the constant, is used, with a
# warning on the Carbon page and in every plan made from it.
FORGE_CARBON_PROVIDER = env.str("FORGE_CARBON_PROVIDER", "trace")
FORGE_CARBON_TRACE = env.str("FORGE_CARBON_TRACE", "")
FORGE_CARBON_HTTP_URL = env.str("FORGE_CARBON_HTTP_URL", "")
FORGE_CARBON_HTTP_API = env.str("FORGE_CARBON_HTTP_API", "carbon-aware-sdk")
FORGE_CARBON_LOCATION = env.str("FORGE_CARBON_LOCATION", "")
FORGE_CARBON_TOKEN = env.str("FORGE_CARBON_TOKEN", "")
FORGE_CARBON_HTTP_TIMEOUT = _env_float("FORGE_CARBON_HTTP_TIMEOUT", 5.0, low=0.1, high=60.0)
FORGE_CARBON_CONSTANT = _env_float("FORGE_CARBON_CONSTANT", 300.0, low=0.0, high=5000.0)
FORGE_CARBON_HORIZON_HOURS = env.int("FORGE_CARBON_HORIZON_HOURS", 72, min=1, max=24 * 14)
FORGE_CARBON_REFRESH_SECONDS = env.int("FORGE_CARBON_REFRESH_SECONDS", 900, min=30)
FORGE_CARBON_MAX_AGE_HOURS = env.int("FORGE_CARBON_MAX_AGE_HOURS", 24, min=1)


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("FORGE_LOG_LEVEL", "INFO").upper()},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
