"""Settings for the test suite: the same as the defaults, but with state under
var/test/ (its own SQLite file, broker folder and secret) and, on Redis, its own
key prefix, so `make test` never touches what `make run` uses."""

import os
from pathlib import Path

os.environ.setdefault("FORGE_VAR_DIR", str(Path(__file__).resolve().parents[2] / "var" / "test"))
os.environ.setdefault("FORGE_BROKER_PREFIX", "forge-test:")

from console.settings.base import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
