"""The benchmark suite runs: ``python -m benchmarks --quick`` exits 0 and prints its table.

No timing is asserted here (CI machines vary); ``make bench`` reports the targets.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.redis
def test_quick_benchmarks_run_and_print_the_table() -> None:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed; .ci/run installs it (apt-get).")
    env = dict(os.environ)
    if os.environ.get("GAMIFY_TEST_DATABASE_URL", "").startswith("postgresql"):
        env.setdefault("GAMIFY_BENCH_POSTGRES", os.environ["GAMIFY_TEST_DATABASE_URL"])
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=450,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-5000:]
    header = next(line for line in completed.stdout.splitlines() if line.startswith("measurement"))
    for column in ("value", "baseline", "ratio", "target", "pass/fail"):
        assert column in header, header
    assert "worker throughput" in completed.stdout
    assert "floor: worker throughput vs the storage floor" in completed.stdout
    assert "growth: time per (event, goal) evaluation" in completed.stdout
    assert "growth: time per event" in completed.stdout
    assert "heavy entity: sum, window, in progress, cost per event" in completed.stdout
    assert "total run time" in completed.stdout
