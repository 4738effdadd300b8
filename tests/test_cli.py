"""The `forge` CLI and its Python client, against a live console over real HTTP.

The CLI runs as a real subprocess (`python -m forge_cli.main`), configured through
FORGE_URL / FORGE_TOKEN / FORGE_CONFIG, exactly as on a laptop or a CI machine.
No worker runs here: submitted jobs stay queued, and tests that wait for a job move
it along themselves with `job_transition`.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from console.accounts.services import api_token_create
from console.jobs.models import Job, JobState
from console.jobs.services import job_transition
from forge_cli import client as client_module
from forge_cli.client import ForgeClient, ForgeError, WaitTimeout
from forge_cli.client import Job as ClientJob
from forge_cli.main import parse_param
from tests.factories import JobFactory

ROOT = Path(__file__).resolve().parent.parent
live = pytest.mark.django_db(transaction=True)


def token_for(user) -> str:
    return api_token_create(user=user, name="cli").key


@pytest.fixture
def config_file(tmp_path) -> Path:
    return tmp_path / "home" / ".config" / "forge" / "config.json"


@pytest.fixture
def forge(tmp_path, config_file):
    """forge(*args, url=, token=) -> CompletedProcess of the real CLI (never a traceback)."""

    def env_for(url: str | None, token: str | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FORGE_")}
        env.update(
            HOME=str(tmp_path / "home"),
            FORGE_CONFIG=str(config_file),
            NO_PROXY="127.0.0.1,localhost",
            PYTHONUNBUFFERED="1",
        )
        if url is not None:
            env["FORGE_URL"] = url
        if token is not None:
            env["FORGE_TOKEN"] = token
        return env

    def run(*args: str, url: str | None = None, token: str | None = None, stdin: str = ""):
        result = subprocess.run(
            [sys.executable, "-m", "forge_cli.main", *args],
            env=env_for(url, token),
            cwd=ROOT,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def popen(*args: str, url: str, token: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "forge_cli.main", *args],
            env=env_for(url, token),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    run.popen = popen
    return run


@pytest.fixture
def milo(live_server, personas):
    """The ML engineer's URL and token, as keyword arguments for forge()."""
    return {"url": live_server.url, "token": token_for(personas.ml_engineer)}


def alpha_job(personas, **fields) -> Job:
    return JobFactory(project=personas.project, requested_by=personas.ml_engineer, **fields)


# ------------------------------------------------------------------ the package itself


def test_package_does_not_import_django():
    code = (
        "import sys, forge_cli, forge_cli.main, forge_cli.client, forge_cli.config;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'console')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_param_values_are_json_when_they_parse():
    assert parse_param("steps=5") == ("steps", 5)
    assert parse_param("step_seconds=0.1") == ("step_seconds", 0.1)
    assert parse_param("fail_at_step=null") == ("fail_at_step", None)
    assert parse_param("flag=true") == ("flag", True)
    assert parse_param("name=hello world") == ("name", "hello world")
    assert parse_param("expr=a=b") == ("expr", "a=b")


def test_job_dataclass_tolerates_extra_and_missing_fields():
    job = ClientJob.from_json(
        {"id": 3, "state": "running", "created_at": "2025-01-02T03:04:05Z", "new_field": 1}
    )
    assert job.id == 3 and job.state == "running" and not job.terminal
    assert job.created_at is not None and job.created_at.year == 2025
    assert job.raw["new_field"] == 1


# ------------------------------------------------------------------ the Python client


@live
def test_client_talks_to_the_console(live_server, personas, monkeypatch):
    monkeypatch.setattr(client_module, "PAGE_SIZE", 2)  # force several pages
    for _ in range(3):
        alpha_job(personas)
    JobFactory(project=personas.other_project)  # another team's: invisible
    with ForgeClient(live_server.url + "/api/v1/", token_for(personas.ml_engineer)) as forge:
        me = forge.me()
        assert me.username == "milo_ml" and me.roles == ["ML engineer"]
        assert [p.slug for p in forge.projects()] == ["alpha"]
        assert forge.project("alpha").name == "Alpha team"
        kind = next(k for k in forge.job_kinds() if k.name == "demo.count")
        assert {f.name for f in kind.fields} == {"steps", "step_seconds", "fail_at_step"}

        job = forge.job_submit(
            project="alpha", kind="demo.count", params={"steps": 2}, name="from the client"
        )
        assert job.state == "queued" and job.name == "from the client"
        assert job.spec["steps"] == 2 and job.requested_by == "milo_ml"
        assert forge.job(job.id).log_tail == ""

        listed = list(forge.jobs())
        assert len(listed) == 4 and listed[0].id == job.id  # newest first, across pages
        assert {j.project for j in listed} == {"alpha"}
        assert next(forge.jobs(state=["queued"], kind="demo.count")).id == job.id
        assert list(forge.jobs(state="succeeded")) == []

        assert forge.job_cancel(job.id).state == "cancelled"
        with pytest.raises(ForgeError) as conflict:
            forge.job_cancel(job.id)
        assert conflict.value.status == 409 and conflict.value.code == "conflict"
        assert "cannot be cancelled" in str(conflict.value)

        with pytest.raises(ForgeError) as invalid:
            forge.job_submit(project="alpha", kind="demo.count", params={"steps": "many"})
        assert invalid.value.status == 400
        assert invalid.value.field_errors == {"params.steps": ["must be int"]}

        with pytest.raises(ForgeError) as missing:
            forge.job(999_999)
        assert missing.value.status == 404 and "not found" in str(missing.value)

        with pytest.raises(WaitTimeout) as waited:
            forge.job_wait(alpha_job(personas).id, timeout=0.2, interval=0.05)
        assert waited.value.job.state == "queued"


@live
def test_client_errors_for_bad_token_and_unreachable_console(live_server, personas):
    with ForgeClient(live_server.url, "not-a-token") as forge, pytest.raises(ForgeError) as bad:
        forge.me()
    assert bad.value.status == 401 and "Authentication failed" in str(bad.value)

    url = f"http://127.0.0.1:{free_port()}"
    with ForgeClient(url, "x", timeout=5) as forge, pytest.raises(ForgeError) as down:
        forge.me()
    assert down.value.status == 0 and url in str(down.value)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------ configuration


@live
def test_login_writes_a_private_config_and_whoami_uses_it(
    forge, live_server, personas, config_file
):
    token = token_for(personas.ml_engineer)
    result = forge("login", "--url", live_server.url + "/", "--token", token)
    assert result.returncode == 0, result.stderr
    assert "milo_ml" in result.stdout and str(config_file) in result.stdout

    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_file.parent.stat().st_mode) == 0o700
    saved = json.loads(config_file.read_text())
    assert saved["url"] == live_server.url and saved["token"] == token

    whoami = forge("whoami")
    assert whoami.returncode == 0, whoami.stderr
    assert whoami.stdout.startswith(f"milo_ml at {live_server.url}")
    assert "jobs.submit" in whoami.stdout
    as_json = json.loads(forge("whoami", "--json").stdout)
    assert as_json["username"] == "milo_ml"

    # The environment wins over the file.
    other = forge("whoami", token=token_for(personas.reviewer))
    assert other.stdout.startswith("rita_reviewer at ")

    # A token on stdin (kept out of the shell history) replaces the saved login.
    again = forge(
        "login", "--url", live_server.url, "--token", "-", stdin=f"{token_for(personas.reviewer)}\n"
    )
    assert again.returncode == 0, again.stderr
    assert "as rita_reviewer" in again.stdout
    assert json.loads(config_file.read_text())["username"] == "rita_reviewer"
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600


@live
def test_login_with_a_bad_token_saves_nothing(forge, live_server, config_file):
    result = forge("login", "--url", live_server.url, "--token", "wrong")
    assert result.returncode == 1
    assert "Authentication failed" in result.stderr and "Invalid or revoked token" in result.stderr
    assert not config_file.exists()


def test_missing_configuration_says_how_to_set_it_up(forge):
    result = forge("jobs", "list")
    assert result.returncode == 1
    assert "forge login" in result.stderr and "FORGE_URL" in result.stderr
    assert "FORGE_TOKEN" in result.stderr


@live
def test_bad_token(forge, live_server):
    result = forge("jobs", "list", url=live_server.url, token="nope")
    assert result.returncode == 1
    assert "Authentication failed" in result.stderr and "HTTP 401" in result.stderr


def test_unreachable_console(forge):
    url = f"http://127.0.0.1:{free_port()}"
    result = forge("whoami", url=url, token="x")
    assert result.returncode == 1
    assert result.stderr.startswith("forge: error: Cannot reach the Forge console at " + url)


# ------------------------------------------------------------------ jobs


@live
def test_submit_creates_the_job_with_its_spec(forge, milo, personas):
    result = forge(
        "jobs", "submit", "demo.count", "--project", "alpha", "--name", "cli run",
        "--param", "steps=5", "--param", "step_seconds=0.1", "--json",
        **milo,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    job = Job.objects.get(pk=data["id"])
    assert job.state == JobState.QUEUED and job.name == "cli run"
    assert job.spec == {"steps": 5, "step_seconds": 0.1, "fail_at_step": None}
    assert job.requested_by == personas.ml_engineer and job.project == personas.project
    assert data["spec"] == job.spec and data["project"] == "alpha"

    human = forge(
        "jobs", "submit", "demo.count", "--project", "alpha",
        "--params-json", '{"steps": 3, "fail_at_step": 2}', "--param", "steps=4",
        **milo,
    )  # fmt: skip
    assert human.returncode == 0, human.stderr
    newest = Job.objects.order_by("-id").first()
    assert newest.spec == {"steps": 4, "step_seconds": 0.5, "fail_at_step": 2}
    assert f"Submitted job {newest.pk} (demo.count) in project alpha: queued." in human.stdout


@live
def test_bad_params_show_field_errors(forge, milo):
    result = forge(
        "jobs", "submit", "demo.count", "--project", "alpha",
        "--param", "steps=many", "--param", "colour=red",
        **milo,
    )  # fmt: skip
    assert result.returncode == 1
    assert "HTTP 400" in result.stderr
    assert "params.steps: must be int" in result.stderr
    assert "params.colour: unknown field" in result.stderr

    unknown_kind = forge("jobs", "submit", "no.such", "--project", "alpha", **milo)
    assert unknown_kind.returncode == 1 and "kind: Unknown job kind" in unknown_kind.stderr

    not_member = forge("jobs", "submit", "demo.count", "--project", "beta", **milo)
    assert not_member.returncode == 1 and "project: No such project" in not_member.stderr

    usage = forge("jobs", "submit", "demo.count", "--project", "alpha", "--param", "steps", **milo)
    assert usage.returncode == 2 and "expected key=value" in usage.stderr
    assert Job.objects.count() == 0


@live
def test_list_and_show(forge, milo, personas):
    done = alpha_job(
        personas,
        name="finished one",
        state=JobState.SUCCEEDED,
        progress=100,
        progress_message="step 3/3",
        result={"steps": 3},
        log_tail="step 1/3 value=0.5\nstep 3/3 value=1.5\n",
    )
    waiting = alpha_job(personas, name="waiting one")
    hidden = JobFactory(project=personas.other_project, name="beta secret")

    listing = forge("jobs", "list", **milo)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == [
        "ID",
        "STATE",
        "KIND",
        "PROJECT",
        "NAME",
        "PROGRESS",
        "BY",
        "CREATED",
    ]
    assert lines[1].split()[:4] == [str(waiting.pk), "queued", "demo.count", "alpha"]
    assert lines[2].split()[:4] == [str(done.pk), "succeeded", "demo.count", "alpha"]
    assert lines[1].index("queued") == lines[2].index("succeeded")  # aligned columns
    assert "beta secret" not in listing.stdout

    as_json = json.loads(forge("jobs", "list", "--json", **milo).stdout)
    assert [j["id"] for j in as_json] == [waiting.pk, done.pk]
    assert hidden.pk not in [j["id"] for j in as_json]
    filtered = json.loads(forge("jobs", "list", "--state", "succeeded", "--json", **milo).stdout)
    assert [j["id"] for j in filtered] == [done.pk]
    assert forge("jobs", "list", "--project", "beta", **milo).stdout.strip() == "No jobs."

    show = forge("jobs", "show", str(done.pk), "--log", **milo)
    assert show.returncode == 0, show.stderr
    assert show.stdout.startswith(f"Job {done.pk}\n")
    assert "state:" in show.stdout and "succeeded" in show.stdout
    assert "100% step 3/3" in show.stdout and '"steps": 3' in show.stdout
    assert "step 3/3 value=1.5" in show.stdout

    detail = json.loads(forge("jobs", "show", str(done.pk), "--json", **milo).stdout)
    assert detail["id"] == done.pk and detail["state"] == "succeeded"
    assert detail["log_tail"] == done.log_tail and detail["result"] == {"steps": 3}

    hidden_show = forge("jobs", "show", str(hidden.pk), **milo)
    assert hidden_show.returncode == 1 and "not found" in hidden_show.stderr


@live
def test_unknown_job_is_not_found(forge, milo):
    result = forge("jobs", "show", "999999", **milo)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "forge: error: Job 999999 not found (or not visible to you). (HTTP 404)"
    )


@live
def test_cancel_and_cancel_again(forge, milo, personas):
    job = alpha_job(personas)
    first = forge("jobs", "cancel", str(job.pk), **milo)
    assert first.returncode == 0, first.stderr
    assert f"Job {job.pk} cancelled; it is now cancelled." in first.stdout
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED

    again = forge("jobs", "cancel", str(job.pk), **milo)
    assert again.returncode == 1 and again.stdout == ""
    assert f"Job {job.pk} is cancelled; it cannot be cancelled. (HTTP 409)" in again.stderr


@live
def test_other_actions_report_conflicts_and_permissions(forge, milo, personas, live_server):
    job = alpha_job(personas)
    pause = forge("jobs", "pause", str(job.pk), **milo)
    assert pause.returncode == 1 and "only a running job can be paused" in pause.stderr
    resume = forge("jobs", "resume", str(job.pk), **milo)
    assert resume.returncode == 1 and "only a paused job can be resumed" in resume.stderr
    viewer = {"url": live_server.url, "token": token_for(personas.viewer)}
    denied = forge("jobs", "submit", "demo.count", "--project", "alpha", **viewer)
    assert denied.returncode == 1 and "HTTP 403" in denied.stderr


@live
def test_projects_and_job_kinds(forge, milo):
    projects = forge("projects", "list", **milo)
    assert projects.returncode == 0, projects.stderr
    assert projects.stdout.splitlines()[1].split()[:3] == ["alpha", "Alpha", "team"]
    kinds = forge("jobs", "kinds", **milo)
    assert kinds.returncode == 0, kinds.stderr
    assert "demo.count" in kinds.stdout and "steps:int=20" in kinds.stdout
    assert json.loads(forge("jobs", "kinds", "--json", **milo).stdout)[0]["name"]


# ------------------------------------------------------------------ waiting


@live
def test_wait_follows_a_job_to_success(forge, milo, personas):
    job = alpha_job(personas)
    proc = forge.popen("jobs", "wait", str(job.pk), "--interval", "0.05", "--timeout", "30", **milo)
    try:
        first = proc.stdout.readline()  # the CLI has seen the job queued
        assert f"job {job.pk}  queued" in first
        job_transition(job_id=job.pk, to=JobState.SCHEDULED)
        job_transition(job_id=job.pk, to=JobState.DISPATCHED)
        job_transition(job_id=job.pk, to=JobState.RUNNING, progress=50, progress_message="step 1/2")
        seen = [first]
        while "running" not in seen[-1]:  # the CLI has seen it running (its --timeout bounds this)
            line = proc.stdout.readline()
            assert line, f"the CLI ended before it saw the job running: {seen}"
            seen.append(line)
        job_transition(job_id=job.pk, to=JobState.SUCCEEDED, progress=100, result={"steps": 2})
        stdout, stderr = proc.communicate(timeout=20)
        stdout = "".join(seen) + stdout
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "running           50% step 1/2" in stdout
    assert stdout.rstrip().endswith(f'Job {job.pk} succeeded. Result: {{"steps": 2}}')


@live
def test_wait_on_failed_or_cancelled_jobs_exits_1(forge, milo, personas):
    failed = alpha_job(personas, state=JobState.FAILED, error="boom at step 2")
    result = forge("jobs", "wait", str(failed.pk), **milo)
    assert result.returncode == 1
    assert f"Job {failed.pk} failed: boom at step 2" in result.stdout

    cancelled = alpha_job(personas, state=JobState.CANCELLED)
    result = forge("jobs", "wait", str(cancelled.pk), "--json", **milo)
    assert result.returncode == 1
    assert json.loads(result.stdout)["state"] == "cancelled"

    succeeded = alpha_job(personas, state=JobState.SUCCEEDED, result={"ok": True})
    result = forge("jobs", "wait", str(succeeded.pk), "--json", **milo)
    assert result.returncode == 0 and json.loads(result.stdout)["result"] == {"ok": True}


@live
def test_wait_timeout_exits_2(forge, milo, personas):
    job = alpha_job(personas)
    result = forge("jobs", "wait", str(job.pk), "--timeout", "0.3", "--interval", "0.1", **milo)
    assert result.returncode == 2
    assert f"Timed out after 0.3 s waiting for job {job.pk} (still queued)" in result.stderr

    submitted = forge(
        "jobs", "submit", "demo.count", "--project", "alpha", "--param", "steps=1",
        "--wait", "--timeout", "0.2", "--interval", "0.1",
        **milo,
    )  # fmt: skip
    assert submitted.returncode == 2
    assert "Submitted job" in submitted.stdout and "Timed out" in submitted.stderr
