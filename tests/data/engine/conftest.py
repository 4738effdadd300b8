"""A hang in these tests is a failure, not a stuck CI job.

pytest-timeout is not a dependency, so each test here runs under a watchdog of its
own: after HANG_LIMIT_S, SIGALRM interrupts the test's main thread (a blocking
read or poll included) with a failure that prints every thread's stack. Should
even that not get through, faulthandler prints the stacks and ends the process
60 s later, so CI fails with the place of the hang instead of waiting forever.
"""

from __future__ import annotations

import faulthandler
import signal
import sys
import threading

import pytest

HANG_LIMIT_S = 300  # the slowest test here takes about 20 s on the 2-core CI machine


def _terminal(request):
    """Where pytest's faulthandler plugin writes (the terminal, not a capture that
    an exiting process would never show); sys.__stderr__ where that is unknown."""
    try:
        from _pytest.faulthandler import fault_handler_stderr_fd_key
    except ImportError:
        return sys.__stderr__
    return request.config.stash.get(fault_handler_stderr_fd_key, None) or sys.__stderr__


@pytest.fixture(autouse=True)
def hang_watchdog(request):
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return

    def on_alarm(signum, frame):
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        pytest.fail(f"{request.node.nodeid} still running after {HANG_LIMIT_S} s: it hangs")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_LIMIT_S)
    faulthandler.dump_traceback_later(HANG_LIMIT_S + 60, exit=True, file=_terminal(request))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        faulthandler.cancel_dump_traceback_later()
