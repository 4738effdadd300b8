"""The container files: docker-compose.yml, Dockerfile and .dockerignore.

No Docker engine is needed: the compose file is read as YAML (with Compose's
`${VAR:-default}` / `${VAR:?error}` interpolation done here), the Dockerfile as
text. When the `docker compose` client is installed, `docker compose config`
validates the file too. No database is used.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from console.env import Env, parse_database_url
from workers.cli import worker_argv
from workers.queues import CONSOLE_QUEUES

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

SERVICES = {"postgres", "redis", "web", "worker", "beat", "gpu-agent"}
APP_SERVICES = ("web", "worker", "beat")  # load Django, share image, env and data volume
DUMMY_ENV = {
    "POSTGRES_PASSWORD": "0123456789abcdef",
    "FORGE_SECRET_KEY": "compose-test-secret-key-not-for-production-0123456789",
}

_VAR = re.compile(r"\$\$|\$\{(\w+)(?::([-?])([^}]*))?\}")


def interpolate(value, env: dict[str, str]):
    """Compose's interpolation, the subset this file uses: $$, ${V}, ${V:-d}, ${V:?err}."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.groups()
        current = env.get(name, "")
        if op == "?" and not current:
            raise KeyError(f"{name}: {arg}")
        if op == "-" and not current:
            return arg
        return current

    return _VAR.sub(replace, value)


def make_vars(makefile: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z_]+)\s*[:?]?=[ \t]*(\S*)", makefile, re.MULTILINE))


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def compose(raw) -> dict:
    return interpolate(raw, DUMMY_ENV)


@pytest.fixture(scope="module")
def dockerfile() -> str:
    assert DOCKERFILE.is_file(), "Dockerfile is missing"
    return DOCKERFILE.read_text()


def healthcheck_enabled(service: dict) -> bool:
    check = service.get("healthcheck") or {}
    return bool(check.get("test")) and not check.get("disable", False)


def uses_forge_image(service: dict) -> bool:
    return service.get("build") is not None


# ---------------------------------------------------------------- compose


def test_expected_services_exist(compose):
    assert set(compose["services"]) >= SERVICES


def test_required_secrets_have_no_default(raw):
    for name in ("POSTGRES_PASSWORD", "FORGE_SECRET_KEY"):
        env = {key: value for key, value in DUMMY_ENV.items() if key != name}
        with pytest.raises(KeyError, match=name):
            interpolate(raw, env)
    assert "${FORGE_SECRET_KEY:?" in raw["services"]["web"]["environment"]["FORGE_SECRET_KEY"]


def test_core_services_have_healthchecks(compose):
    services = compose["services"]
    for name in ("postgres", "redis", "web", "worker"):
        assert healthcheck_enabled(services[name]), f"{name} has no healthcheck"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    assert any("/healthz" in part for part in services["web"]["healthcheck"]["test"])


def test_long_running_services_are_checked_or_wait_for_healthy_ones(compose):
    services = compose["services"]
    for name, service in services.items():
        if service.get("restart") == "no":
            continue  # a one-shot job
        conditions = {dep.get("condition") for dep in (service.get("depends_on") or {}).values()}
        assert healthcheck_enabled(service) or "service_healthy" in conditions, name


def test_dependency_conditions_are_satisfiable(compose):
    services = compose["services"]
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions"
        for target, dep in depends_on.items():
            assert target in services, f"{name} depends on unknown {target}"
            condition = dep["condition"]
            if condition == "service_healthy":
                assert healthcheck_enabled(services[target]), f"{name} waits on {target}"
            elif condition == "service_completed_successfully":
                assert services[target].get("restart") == "no", f"{target} must be one-shot"
            else:
                assert condition == "service_started"
    for name in APP_SERVICES:
        assert set(services[name]["depends_on"]) >= {"postgres", "redis"}


def test_migrations_run_before_the_app_starts(compose):
    services = compose["services"]
    migrate = services["migrate"]
    command = " ".join(migrate["command"])
    assert "manage.py migrate --noinput" in command
    assert "manage.py forge_setup" in command
    assert command.index("migrate --noinput") < command.index("forge_setup")
    for name in APP_SERVICES:
        dep = services[name]["depends_on"]["migrate"]
        assert dep["condition"] == "service_completed_successfully"


def test_forge_image_healthcheck_is_overridden_where_no_web_server_runs(compose):
    # The image's HEALTHCHECK probes :8000, which only web serves.
    for name, service in compose["services"].items():
        if uses_forge_image(service) and name != "web":
            assert "healthcheck" in service, f"{name} would inherit the web healthcheck"


def test_named_volumes_are_declared_and_used(compose):
    declared = set(compose["volumes"])
    used: dict[str, set[str]] = {}
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            source, target = mount.split(":")[:2]
            if not source.startswith((".", "/", "~")):
                assert source in declared, f"{name} mounts undeclared volume {source}"
                used.setdefault(source, set()).add(name)
                if source == "postgres-data":
                    assert target == "/var/lib/postgresql/data"
    assert declared == set(used), "declared volumes must all be used"
    assert "postgres" in used["postgres-data"]


def test_app_services_share_image_env_and_data_volume(compose):
    services = compose["services"]
    first = services[APP_SERVICES[0]]
    assert first["build"]["context"] == "."
    for name in APP_SERVICES:
        service = services[name]
        assert service["build"] == first["build"], name
        assert service["image"] == first["image"], name
        assert service["environment"] == first["environment"], name
        data_dir = service["environment"]["FORGE_DATA_DIR"]
        mounts = {m.split(":")[1]: m.split(":")[0] for m in service["volumes"]}
        assert data_dir in mounts, f"{name} does not mount FORGE_DATA_DIR"
        assert mounts[data_dir] == "forge-data"
    # The migrate job runs the same image with the same settings (plus the admin password).
    migrate = services["migrate"]
    assert migrate["image"] == first["image"]
    assert first["environment"].items() <= migrate["environment"].items()


def test_app_env_points_at_the_compose_servers_and_parses(compose):
    services = compose["services"]
    environ = services["web"]["environment"]
    env = Env(environ)
    assert environ["DJANGO_SETTINGS_MODULE"] == "console.settings.production"
    database = parse_database_url("DATABASE_URL", environ["DATABASE_URL"])
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert database["HOST"] == "postgres"
    pg = services["postgres"]["environment"]
    assert database["NAME"] == pg["POSTGRES_DB"]
    assert database["USER"] == pg["POSTGRES_USER"]
    assert database["PASSWORD"] == pg["POSTGRES_PASSWORD"] == DUMMY_ENV["POSTGRES_PASSWORD"]
    assert urlsplit(env.redis_url("REDIS_URL")).hostname == "redis"
    assert environ["FORGE_SECRET_KEY"] == DUMMY_ENV["FORGE_SECRET_KEY"]
    assert env.bool("FORGE_SECURE_SSL_REDIRECT") is False  # local compose: no TLS
    assert env.bool("FORGE_SECURE_PROXY_SSL_HEADER") is False
    hosts = env.list("FORGE_ALLOWED_HOSTS")
    assert "127.0.0.1" in hosts  # the healthchecks' Host
    assert "web" in hosts  # the agent's Host (http://web:8000)


def test_web_serves_gunicorn_on_port_8000(compose):
    web = compose["services"]["web"]
    assert web["command"][0] == "gunicorn"
    assert web["command"][web["command"].index("--bind") + 1] == "0.0.0.0:8000"
    assert any(str(port).endswith(":8000") for port in web["ports"])


def test_worker_consumes_every_console_queue(compose):
    command = compose["services"]["worker"]["command"]
    assert "celery" in command
    assert command[command.index("-A") + 1] == "workers"
    assert "worker" in command
    queues = command[command.index("-Q") + 1].split(",")
    assert sorted(queues) == sorted(str(q) for q in CONSOLE_QUEUES)


def test_worker_command_is_the_one_run_stack_uses(raw):
    """The YAML spells out workers.cli.worker_argv (the command `make run` starts)."""
    command = raw["services"]["worker"]["command"]
    assert command == worker_argv(python="python", concurrency="${FORGE_WORKER_CONCURRENCY:-2}")


def test_beat_keeps_its_schedule_in_a_volume(compose):
    beat = compose["services"]["beat"]
    command = beat["command"]
    assert "celery" in command
    assert "beat" in command
    schedule = command[command.index("--schedule") + 1]
    targets = {m.split(":")[1]: m.split(":")[0] for m in beat["volumes"]}
    mount = next((t for t in targets if schedule.startswith(t.rstrip("/") + "/")), None)
    assert mount is not None, "the beat schedule is not on a volume"
    assert targets[mount] in compose["volumes"]


def test_gpu_agent_reserves_nvidia_gpus_and_reaches_web(compose):
    agent = compose["services"]["gpu-agent"]
    devices = agent["deploy"]["resources"]["reservations"]["devices"]
    assert {"driver": "nvidia", "count": "all", "capabilities": ["gpu"]} in devices
    command = agent["command"]
    assert command[:3] == ["python", "-m", "gpu_agent"]
    assert command[command.index("--console") + 1] == "http://web:8000"
    assert command[command.index("--name") + 1] == "gpu-node-1"
    assert "FORGE_NODE_TOKEN" in agent["environment"]
    assert "--work-dir" in command
    assert agent["depends_on"]["web"]["condition"] == "service_healthy"
    # It sees the console's storage at the same path (corpora in, checkpoints out).
    assert f"forge-data:{compose['x-forge-env']['FORGE_DATA_DIR']}" in agent["volumes"]
    # It talks HTTP only: no database credentials or Django secret.
    assert "DATABASE_URL" not in agent["environment"]
    assert "FORGE_SECRET_KEY" not in agent["environment"]


def test_docker_compose_config_accepts_the_file(tmp_path):
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker client")
    probe = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip("the docker client has no compose plugin")
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, **DUMMY_ENV},
    )
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- Dockerfile


def test_dockerfile_base_port_command_and_healthcheck(dockerfile):
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.MULTILINE)
    assert re.search(r"^EXPOSE 8000\b", dockerfile, re.MULTILINE)
    healthcheck = re.search(r"^HEALTHCHECK .*?(?<!\\)$", dockerfile, re.MULTILINE | re.DOTALL)
    assert healthcheck, "no HEALTHCHECK"
    assert "/healthz" in healthcheck.group(0)
    assert "python" in healthcheck.group(0)
    cmd = re.search(r"^CMD \[(.*?)\]\s*$", dockerfile, re.MULTILINE | re.DOTALL)
    assert cmd
    assert '"gunicorn"' in cmd.group(1)
    assert '"0.0.0.0:8000"' in cmd.group(1)
    assert re.search(
        r"^ENV\b[^\n]*(?:\\\n[^\n]*)*DJANGO_SETTINGS_MODULE=console\.settings\.production",
        dockerfile,
        re.MULTILINE,
    )


def test_dockerfile_runs_as_a_non_root_user(dockerfile):
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users, "no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_dockerfile_collects_static_with_build_only_secrets(dockerfile):
    run = re.search(r"^RUN [^\n]*(?:\\\n[^\n]*)*collectstatic", dockerfile, re.MULTILINE)
    assert run, "collectstatic does not run at build time"
    assert "FORGE_SECRET_KEY=" in run.group(0)
    assert "FORGE_ALLOWED_HOSTS=" in run.group(0)
    env_lines = re.findall(r"^(?:ENV|ARG)\b[^\n]*(?:\\\n[^\n]*)*", dockerfile, re.MULTILINE)
    assert not any("FORGE_SECRET_KEY" in line for line in env_lines), "secret baked into image"


def test_dockerfile_pins_match_makefile_and_pyproject(dockerfile):
    make = make_vars((ROOT / "Makefile").read_text())
    torch, deepspeed = make["TORCH_VERSION"], make["DEEPSPEED_VERSION"]
    assert re.findall(r"\btorch==([\w.+]+)", dockerfile) == [torch]
    assert re.findall(r"\bdeepspeed==([\w.+]+)", dockerfile) == [deepspeed]
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"torch=={torch}" in deps
    assert f"deepspeed=={deepspeed}" in deps
    # Same order as the Makefile: torch, then deepspeed against it, then Forge.
    torch_at = dockerfile.index(f"torch=={torch}")
    deepspeed_line = next(line for line in dockerfile.splitlines() if "deepspeed==" in line)
    assert "--no-build-isolation" in deepspeed_line
    assert torch_at < dockerfile.index(deepspeed_line) < dockerfile.index("pip install .")


def test_dockerfile_names_no_package_index(dockerfile):
    assert re.search(r'^ARG TORCH_INDEX_URL(="")?\s*$', dockerfile, re.MULTILINE)
    assert '--index-url "$TORCH_INDEX_URL"' in dockerfile
    for url in re.findall(r"\b[a-z][a-z0-9+.-]*://[^\s'\"]+", dockerfile):
        assert urlsplit(url).hostname in {"127.0.0.1", "localhost"}, url
    for needle in ("pypi", "pytorch.org", "files.pythonhosted", "extra-index-url"):
        assert needle not in dockerfile.lower()


def test_dockerignore_keeps_local_state_out():
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for entry in (".venv", "var", ".git", ".env", ".whl", "**/__pycache__", ".pytest_cache"):
        assert entry in ignored, entry
    for needed in ("console", "workers", "gpu_agent", "forge_cli", "templates", "static"):
        assert needed not in ignored
