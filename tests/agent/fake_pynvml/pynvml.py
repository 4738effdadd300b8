"""Shadows pynvml in a real agent process (this directory goes on PYTHONPATH): the
fake NVML of tests/agent/fake_nvml.py, its GPUs in the JSON file FAKE_NVML_STATE."""

import os
from pathlib import Path

from tests.agent.fake_nvml import (  # noqa: F401 - the module's public names
    NVML_ERROR_NO_PERMISSION,
    NVML_ERROR_NOT_SUPPORTED,
    NVML_TEMPERATURE_GPU,
    FileBackedNvml,
    NVMLError,
)

_fake = FileBackedNvml(Path(os.environ["FAKE_NVML_STATE"]))


def __getattr__(name: str):
    return getattr(_fake, name)
