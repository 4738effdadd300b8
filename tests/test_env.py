import pytest
from django.core.exceptions import ImproperlyConfigured

from console.env import Env, parse_database_url, secret_key_from_file


def test_bool_int_list_parse():
    env = Env({"A": "true", "B": "0", "N": "42", "L": "a, b,,c"})
    assert env.bool("A") is True
    assert env.bool("B") is False
    assert env.int("N", min=1) == 42
    assert env.list("L") == ["a", "b", "c"]
    assert env.int("MISSING", 7) == 7
    proxies = Env({"P": "10.0.0.7, 192.168.0.0/16,::1"}).networks("P")
    assert proxies == ["10.0.0.7/32", "192.168.0.0/16", "::1/128"]
    assert Env({}).networks("P", []) == []


@pytest.mark.parametrize(
    ("environ", "call", "needle"),
    [
        ({"FORGE_DEBUG": "maybe"}, lambda e: e.bool("FORGE_DEBUG", False), "FORGE_DEBUG"),
        ({"FORGE_PORT": "80x"}, lambda e: e.int("FORGE_PORT", 1), "FORGE_PORT"),
        ({"FORGE_N": "0"}, lambda e: e.int("FORGE_N", 1, min=1), "FORGE_N"),
        ({}, lambda e: e.str("FORGE_REQUIRED"), "FORGE_REQUIRED"),
        ({"REDIS_URL": "http://x"}, lambda e: e.redis_url("REDIS_URL"), "REDIS_URL"),
        ({"REDIS_URL": "redis://h:99999/0"}, lambda e: e.redis_url("REDIS_URL"), "REDIS_URL"),
        ({"FORGE_DATA_DIR": " "}, lambda e: e.path("FORGE_DATA_DIR", "/x"), "FORGE_DATA_DIR"),
        (
            {"FORGE_TRUSTED_PROXIES": "10.0.0.1,proxy"},
            lambda e: e.networks("FORGE_TRUSTED_PROXIES", []),
            "FORGE_TRUSTED_PROXIES",
        ),
    ],
)
def test_bad_values_fail_loudly_naming_the_variable(environ, call, needle):
    with pytest.raises(ImproperlyConfigured, match=needle):
        call(Env(environ))


@pytest.mark.parametrize(
    "url",
    ["mysql://u@h/db", "postgres://h:notaport/db", "postgres://h/", "sqlite://relative.db"],
)
def test_bad_database_urls(url):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        parse_database_url("DATABASE_URL", url)


def test_postgres_url_parsed():
    db = parse_database_url("DATABASE_URL", "postgres://forge:s%40cret@db.internal:6543/forge")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "forge",
        "s@cret",
        "db.internal",
        "6543",
        "forge",
    )


def test_sqlite_url_uses_wal_and_busy_timeout(tmp_path):
    db = parse_database_url("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
    assert db["OPTIONS"]["timeout"] >= 5
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_secret_key_generated_once_and_private(tmp_path):
    path = tmp_path / "var" / "secret_key"
    first = secret_key_from_file(path)
    assert len(first) >= 50
    assert secret_key_from_file(path) == first
    assert path.stat().st_mode & 0o777 == 0o600


def test_short_secret_key_file_refused(tmp_path):
    path = tmp_path / "secret_key"
    path.write_text("short")
    with pytest.raises(ImproperlyConfigured, match="shorter than 50"):
        secret_key_from_file(path)


def test_settings_import_fails_on_bad_env(tmp_path):
    """A malformed setting stops start-up with a message naming the variable."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "FORGE_VAR_DIR": str(tmp_path),
        "FORGE_DEBUG": "sometimes",
        "DJANGO_SETTINGS_MODULE": "console.settings.base",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "FORGE_DEBUG" in result.stderr


@pytest.mark.parametrize(
    ("environ", "expect"),
    [
        ({}, "USD 20971520"),
        ({"FORGE_CURRENCY": "", "FORGE_GOVERNANCE_MAX_FILE_BYTES": "1024"}, "USD 1024"),
        ({"FORGE_CURRENCY": "EUR"}, "EUR 20971520"),
        ({"FORGE_CURRENCY": "euro cent"}, "FORGE_CURRENCY"),
        ({"FORGE_GOVERNANCE_MAX_FILE_BYTES": "0"}, "FORGE_GOVERNANCE_MAX_FILE_BYTES"),
    ],
)
def test_currency_and_evidence_limit_come_from_the_environment(tmp_path, environ, expect):
    import os
    import subprocess
    import sys

    names = ("FORGE_CURRENCY", "FORGE_GOVERNANCE_MAX_FILE_BYTES")
    env = {k: v for k, v in os.environ.items() if k not in names}
    env |= {
        "FORGE_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "console.settings.base",
        **environ,
    }
    code = (
        "from django.conf import settings; "
        "print(settings.FORGE_CURRENCY, settings.FORGE_GOVERNANCE_MAX_FILE_BYTES)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert expect in (result.stdout if result.returncode == 0 else result.stderr)
