"""Section ``suite``: the test suite's wall time, and every real sleep it makes.

Runs ``python -m pytest -q -p no:cacheprovider`` in a subprocess from the repository root with the
plugin :mod:`bench.sleep_probe` loaded (``-p bench.sleep_probe``; no conftest involved), and reports
the wall time, the real sleep seconds requested, the largest single sleep and where it came from,
and the retry waits, which should be none: every retry-policy test switches sleeping off.

Other real waits are legitimate and reported as they are: polling a server's start-up, subprocess
waits, client timeouts against deliberately slow fake servers. Sleeps in subprocesses the tests
start (gunicorn, ``python -c`` checks) are outside the probe's reach.

This is the slow section (about 30 s); ``bench/run.py --skip-suite`` leaves it out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import REPO_ROOT
from bench.report import Ratio, Row, Section, Target

__all__ = ["DEFAULT", "QUICK", "Sizes", "run"]


@dataclass(frozen=True, slots=True)
class Sizes:
    """What the section runs."""

    paths: tuple[str, ...] = field(default_factory=tuple)
    """Test paths to pass to pytest; empty for the configured ``testpaths`` (the whole suite)."""
    options: tuple[str, ...] = ()
    """More pytest options, e.g. ``("-p", "no:hypothesispytest")``."""
    timeout: float = 600.0
    """Seconds after which the test run is killed and the section fails."""


DEFAULT = Sizes()
QUICK = Sizes()  # the suite has one size; --quick does not shorten it


def _pytest_summary(output: str) -> str:
    for line in reversed(output.strip().splitlines()):
        if " in " in line and any(word in line for word in ("passed", "failed", "error", "skipped", "no tests")):
            return line.strip("= ").strip()
    return "(no pytest summary line)"


def _describe(record: dict[str, Any]) -> str:
    return f"{record['origin']} via {record['caller']}"


def _environment() -> dict[str, str]:
    python_path = [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(python_path)}


def run(sizes: Sizes = DEFAULT) -> Section:
    """Run the test suite under the sleep probe and report; see the module docstring."""
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as tmp:
        out = Path(tmp, "sleeps.json")
        argv = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "bench.sleep_probe",
            f"--sleep-probe-out={out}",
            *sizes.options,
            *sizes.paths,
        ]
        start = time.perf_counter()
        completed = subprocess.run(
            argv,
            cwd=REPO_ROOT,
            env=_environment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=sizes.timeout,
            check=False,
        )
        wall = time.perf_counter() - start
        if not out.exists():
            raise RuntimeError(
                f"pytest exited with {completed.returncode} and wrote no sleep summary: {completed.stderr[-500:]}"
            )
        summary: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))

    # Failing tests do not void the measurement: the wall time row shows pytest's verdict.
    outcome = _pytest_summary(completed.stdout)
    requested = float(summary["requested_seconds"])
    largest = summary["largest"][0] if summary["largest"] else None
    retry_waits = summary["retry_waits"]
    top = summary["by_origin"][0] if summary["by_origin"] else None
    most = f"; most from {top['origin']} ({top['calls']} calls, {top['requested_seconds']:.2f} s)" if top else ""
    rows = (
        Row(
            key="wall",
            label="test suite wall time",
            value=wall,
            unit="s",
            note=f"{'TESTS FAILED: ' if completed.returncode else ''}exit {completed.returncode}, {outcome}",
            extra={"returncode": completed.returncode, "pytest_summary": outcome, "argv": argv[1:]},
        ),
        Row(
            key="sleep_total",
            label="real sleep requested, total",
            value=requested,
            unit="s",
            ratios=(Ratio("wall", "wall time", requested / wall if wall > 0 else 0.0),),
            note=f"{summary['calls']} calls{most}",
            extra={key: summary[key] for key in ("calls", "nonzero_calls", "measured_seconds", "by_origin", "by_test")},
        ),
        Row(
            key="sleep_max",
            label="largest single sleep",
            value=float(largest["requested"]) if largest else 0.0,
            unit="s",
            note=_describe(largest) if largest else "",
            extra={"largest": summary["largest"]},
        ),
        Row(
            key="retry_waits",
            label="real retry waits (retry.py, tenacity, backoff, stamina, anthropic)",
            value=float(retry_waits["calls"]),
            unit="count",
            target=Target("none", retry_waits["calls"] == 0),
            note=f"{retry_waits['requested_seconds']:.2f} s",
            extra=retry_waits,
        ),
    )
    return Section(
        key="suite",
        title="Test suite under the sleep probe (python -m pytest -q -p no:cacheprovider -p bench.sleep_probe)",
        rows=rows,
        notes=(
            "Sleeps are real time.sleep/asyncio.sleep calls in the pytest process; mocked sleeps are not counted, "
            "sleeps inside subprocesses the tests start are not seen.",
        ),
        params=asdict(sizes),
    )
