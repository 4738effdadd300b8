"""Settings for the test suite: the same as the defaults, but with state under
var/test/ (its own SQLite file, broker folder and secret) and, on Redis, its own
key prefix, so `make test` never touches what `make run` uses. Each test run
gets its own test database file and broker folder (FORGE_TEST_RUN), so two runs
at once don't trip over each other; the processes a test starts inherit them."""

import os
from pathlib import Path

_VAR = Path(__file__).resolve().parents[2] / "var" / "test"
RUN_ID = os.environ.setdefault("FORGE_TEST_RUN", str(os.getpid()))
# Under pytest-xdist each worker (gw0, gw1, ...) is a run of its own: its own test
# database (pytest-django suffixes the name), broker folder, Redis key prefix, data
# folder and rendezvous ports. Workers inherit the controller's environment, so the
# worker's values replace the controller's once, in the worker; the processes a
# worker's tests start inherit the worker's values and keep them.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _WORKER and os.environ.get("FORGE_TEST_WORKER") != _WORKER:
    os.environ["FORGE_TEST_WORKER"] = _WORKER
    _controller = (str(_VAR / "runs" / RUN_ID), f"forge-test-{RUN_ID}:")
    for name in ("FORGE_BROKER_DIR", "FORGE_BROKER_PREFIX", "FORGE_DATA_DIR"):
        if os.environ.get(name, "").startswith(_controller):  # the controller's, not the user's
            del os.environ[name]
    _index = int(_WORKER.removeprefix("gw") or 0)
    os.environ["FORGE_RENDEZVOUS_PORT_MIN"] = str(29500 + 100 * _index)
    os.environ["FORGE_RENDEZVOUS_PORT_MAX"] = str(29599 + 100 * _index)
if _WORKER:
    RUN_ID = f"{RUN_ID}-{_WORKER}"
os.environ.setdefault("FORGE_VAR_DIR", str(_VAR))
os.environ.setdefault("FORGE_BROKER_DIR", str(_VAR / "runs" / RUN_ID / "broker"))
os.environ.setdefault("FORGE_BROKER_PREFIX", f"forge-test-{RUN_ID}:")
os.environ.setdefault("FORGE_DATA_DIR", str(_VAR / "runs" / RUN_ID / "data"))

from console.settings.base import *  # noqa: E402,F403
from console.settings.base import DATABASES, VAR_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "runs" / RUN_ID / "test_forge.sqlite3")}
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - whitenoise warns when it is missing
