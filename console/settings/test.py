"""Settings for the test suite: the same as the defaults, but with state under
var/test/ (its own SQLite file, broker folder and secret) and, on Redis, its own
key prefix, so `make test` never touches what `make run` uses. Each test run
gets its own test database file and broker folder (FORGE_TEST_RUN), so two runs
at once don't trip over each other; the processes a test starts inherit them."""

import os
from pathlib import Path

_VAR = Path(__file__).resolve().parents[2] / "var" / "test"
RUN_ID = os.environ.setdefault("FORGE_TEST_RUN", str(os.getpid()))
os.environ.setdefault("FORGE_VAR_DIR", str(_VAR))
os.environ.setdefault("FORGE_BROKER_DIR", str(_VAR / "runs" / RUN_ID / "broker"))
os.environ.setdefault("FORGE_BROKER_PREFIX", f"forge-test-{RUN_ID}:")

from console.settings.base import *  # noqa: E402,F403
from console.settings.base import DATABASES, VAR_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "runs" / RUN_ID / "test_forge.sqlite3")}
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - whitenoise warns when it is missing
