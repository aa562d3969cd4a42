"""runtime.cpu_affinity: the daemon pins every thread (present and future) to the configured CPUs, and an
impossible setting is one config line and exit 78 before anything starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux only")


def krt(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KRT_", "KRAKEN_"))}
    base.update(env)
    return subprocess.run([sys.executable, "-m", "kraken_runtime", *args], cwd=cwd, env=base,
                          capture_output=True, text=True, timeout=60)


def test_cpu_that_does_not_exist_is_refused_with_exit_78_before_starting(tmp_path):
    result = krt("run", "--duration", "1", cwd=tmp_path, env={"KRT_RUNTIME__CPU_AFFINITY": "4000", "PYTHONPATH": str(REPO)})
    assert result.returncode == 78, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("config error: runtime.cpu_affinity = [4000]: CPU(s) [4000] not available to this process")
    assert not (tmp_path / "state").exists()  # refused before the database was touched


def test_cpu_ids_out_of_range_or_repeated_are_config_errors(tmp_path):
    for value in ("-1", "1,1", "zero"):
        result = krt("config", "check", cwd=tmp_path, env={"KRT_RUNTIME__CPU_AFFINITY": value})
        assert result.returncode == 78 and "runtime.cpu_affinity" in result.stderr, (value, result.stderr)


def test_pinning_applies_to_threads_already_running_and_to_threads_started_later():
    cpu = min(os.sched_getaffinity(0))
    script = f"""
import os, threading
from kraken_runtime.commands.run import pin_process
ready, done, seen = threading.Event(), threading.Event(), {{}}
def early():
    ready.set(); done.wait(10); seen['early'] = os.sched_getaffinity(threading.get_native_id())
t = threading.Thread(target=early); t.start(); ready.wait(10)
assert pin_process(({cpu},)) is None
late = threading.Thread(target=lambda: seen.__setitem__('late', os.sched_getaffinity(0))); late.start(); late.join()
done.set(); t.join()
print(sorted(os.sched_getaffinity(0)), sorted(seen['early']), sorted(seen['late']))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("] [") == [f"[{cpu}", f"{cpu}", f"{cpu}]\n"]
