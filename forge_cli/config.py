"""Where the CLI finds the console and its token.

FORGE_URL and FORGE_TOKEN win; otherwise the config file written by ``forge login``
($FORGE_CONFIG, else ~/.config/forge/config.json; the file is 0600, its folder 0700).
Each setting is taken separately, so FORGE_URL may point an existing login elsewhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

ENV_URL = "FORGE_URL"
ENV_TOKEN = "FORGE_TOKEN"
ENV_CONFIG = "FORGE_CONFIG"

NOT_CONFIGURED = (
    "Forge is not configured ({missing}): run `forge login --url URL --token TOKEN` "
    "(create a token on the console's Tokens page), or set FORGE_URL and FORGE_TOKEN."
)


class ConfigError(Exception):
    """The configuration is missing or unreadable; the message says what to do."""


@dataclass(frozen=True)
class Config:
    url: str
    token: str
    url_source: str  # "FORGE_URL" or the config file's path
    token_source: str

    @property
    def from_env(self) -> bool:
        return self.url_source == ENV_URL or self.token_source == ENV_TOKEN


def default_config_path() -> Path:
    return Path.home() / ".config" / "forge" / "config.json"


def config_path() -> Path:
    override = os.environ.get(ENV_CONFIG, "").strip()
    return Path(override).expanduser() if override else default_config_path()


def read_config_file(path: Path | None = None) -> dict[str, str]:
    """The saved settings ({} when there is no file); ConfigError when it is unreadable."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"Cannot read the Forge config file {path}: {exc.strerror}.") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise ConfigError(
            f"The Forge config file {path} is not valid JSON; run `forge login` again or delete it."
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"The Forge config file {path} should hold a JSON object.")
    return {k: str(v) for k, v in data.items() if isinstance(v, str | int | float)}


def load_config() -> Config:
    """The effective configuration, or ConfigError telling the user how to set it up."""
    env_url = os.environ.get(ENV_URL, "").strip()
    env_token = os.environ.get(ENV_TOKEN, "").strip()
    path = config_path()
    saved = {} if env_url and env_token else read_config_file(path)
    url, url_source = (env_url, ENV_URL) if env_url else (saved.get("url", ""), str(path))
    token, token_source = (
        (env_token, ENV_TOKEN) if env_token else (saved.get("token", ""), str(path))
    )
    if not url or not token:
        missing = " and ".join(
            name for name, value in (("console URL", url), ("API token", token)) if not value
        )
        raise ConfigError(NOT_CONFIGURED.format(missing=f"no {missing}"))
    return Config(url=url, token=token, url_source=url_source, token_source=token_source)


def save_config(url: str, token: str, *, username: str = "", path: Path | None = None) -> Path:
    """Write the config file atomically, readable by its owner only. Returns its path."""
    path = path or config_path()
    folder = path.parent
    created = not folder.exists()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if created or folder == default_config_path().parent:
        os.chmod(folder, 0o700)
    data = {"url": url, "token": token}
    if username:
        data["username"] = username
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".tmp", dir=folder)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
