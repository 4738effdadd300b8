"""Checkpoints are read without unpickling arbitrary objects (RELIABILITY.md S10).

DeepSpeed reads a checkpoint's ``*.pt`` files with ``torch.load(weights_only=False)``:
a planted file in a checkpoint folder would run its code in the training process
(as whoever runs the agent) the moment a run resumes. ``no_code_in_pickles`` makes
every ``torch.load`` in the process, DeepSpeed's included, use PyTorch's restricted
unpickler (``weights_only=True``) for as long as it is active: tensors, containers
and plain values pass, and so do the few DeepSpeed and PyTorch types a checkpoint
that Forge's loop wrote holds (``SAFE_GLOBALS``); any other global (``os.system``,
``subprocess.Popen``, a class with a ``__reduce__``) is refused and the load raises
``UnsafeCheckpoint`` before anything runs.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any


class UnsafeCheckpoint(RuntimeError):
    """A checkpoint file holds something other than tensors and plain values."""


def safe_globals() -> list[Any]:
    """The types a DeepSpeed checkpoint of Forge's loop pickles besides tensors."""
    import argparse
    import collections

    from deepspeed.runtime.fp16.loss_scaler import DynamicLossScaler, LossScaler
    from deepspeed.runtime.zero.config import ZeroStageEnum
    from deepspeed.utils.tensor_fragment import fragment_address

    return [
        argparse.Namespace,
        collections.OrderedDict,
        collections.defaultdict,
        LossScaler,
        DynamicLossScaler,
        ZeroStageEnum,
        fragment_address,
        set,
    ]


@contextlib.contextmanager
def no_code_in_pickles() -> Iterator[None]:
    """Within this block ``torch.load`` only ever unpickles weights and plain values."""
    import torch

    original = torch.load
    allowed = safe_globals()

    @functools.wraps(original)
    def load(f: Any, map_location: Any = None, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("weights_only", None)
        try:
            with torch.serialization.safe_globals(allowed):
                return original(f, map_location, *args, weights_only=True, **kwargs)
        except Exception as exc:  # torch raises UnpicklingError (or RuntimeError) for a global
            if "weights_only" in str(exc) or "Unsupported global" in str(exc):
                raise UnsafeCheckpoint(
                    f"refused to load {f}: it holds objects other than weights and plain "
                    f"values, which would run code when unpickled ({_first_line(exc)})"
                ) from None
            raise

    torch.load = load
    try:
        yield
    finally:
        torch.load = original


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if "Unsupported global" in line or "GLOBAL" in line:
            return line[:300]
    return lines[0][:300] if lines else type(exc).__name__
