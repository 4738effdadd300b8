"""Default settings: embedded defaults for a laptop, or real servers when the env says so."""

from console.settings.base import *  # noqa: F403
