"""Pool workers do not outlive a parent that is killed outright (Linux: the kernel ends
them, asked by the worker initialiser)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

PARENT = """
import os, sys, time
from tsodso.scale.engine import run_jobs

def job(i):
    print(os.getpid(), flush=True)
    time.sleep(60)
    return i

if __name__ == "__main__":
    run_jobs(job, [(0,), (1,)], workers=2)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its (gone) parent counts as ended
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(sys.platform != "linux", reason="parent-death signal is Linux only")
def test_workers_end_when_the_parent_is_killed(tmp_path: object) -> None:
    script = os.path.join(str(tmp_path), "parent.py")
    with open(script, "w") as fh:
        fh.write(PARENT)
    err = os.path.join(str(tmp_path), "parent.err")
    with open(err, "w") as errfh:
        p = subprocess.Popen(
            [sys.executable, script], stdout=subprocess.PIPE, stderr=errfh, text=True
        )
    assert p.stdout is not None
    pids: list[int] = []
    while len(pids) < 2:  # both jobs started in workers (other lines are not ours)
        line = p.stdout.readline()
        if not line:  # say why: the parent's own error output
            with open(err) as fh:
                pytest.fail(f"the parent ended before both jobs started:\n{fh.read()[-3000:]}")
        if line.strip().isdigit():
            pids.append(int(line))
    assert all(_alive(w) for w in pids) and p.pid not in pids
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    deadline = time.monotonic() + 20
    while any(_alive(w) for w in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(w) for w in pids)
