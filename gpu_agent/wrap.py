"""The tiny parent of every job process, so that a job outlives its agent.

    python -m gpu_agent.wrap --dir JOB_DIR [--lock-fd N] -- ARGV...

The supervisor starts this as the leader of a new session (its process group is
the job's), with stdout and stderr already pointing at files in JOB_DIR, and
hands it an open file descriptor on JOB_DIR/lock that holds an exclusive flock:
as long as this process lives the lock is held, so any agent (this one or one
restarted later) knows the job is alive by trying the lock — no pid guessing.

It runs ARGV, waits for it, writes its exit code to JOB_DIR/exit_code (atomically:
a negative number is a signal), and then kills whatever the job left behind in
its process group, itself included. SIGTERM/SIGINT/SIGHUP do not stop the wrapper
itself (they are meant for the job, which gets them through the process group);
SIGKILL does, and then there is no exit_code file.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

EXIT_FILE = "exit_code"
PID_FILE = "wrapper.pid"
LOCK_FILE = "lock"


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_exit_code(job_dir: Path) -> int | None:
    try:
        return int((job_dir / EXIT_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpu_agent.wrap")
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--lock-fd", type=int, default=None)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run")

    # A handler (not SIG_IGN, which the child would inherit through exec).
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: None)
    write_atomic(args.dir / PID_FILE, str(os.getpid()))
    try:
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, close_fds=True)
    except OSError as exc:
        print(f"forge: cannot start {command[0]!r}: {exc}", file=sys.stderr, flush=True)
        code = 127
    else:
        code = child.wait()
    write_atomic(args.dir / EXIT_FILE, str(code))
    sys.stdout.flush()
    sys.stderr.flush()
    if os.getpgid(0) == os.getpid():  # the job's own group: end what it left behind
        os.killpg(0, signal.SIGKILL)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    raise SystemExit(main())
