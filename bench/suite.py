"""Section ``suite``: the test suite's wall time, and every real sleep it makes.

Runs ``python -m pytest -q -p no:cacheprovider`` in a subprocess from the repository root with the
plugin :mod:`bench.sleep_probe` loaded (``-p bench.sleep_probe``; no conftest involved), and reports
the wall time, the real sleep seconds requested, the largest single sleep and where it came from,
and the real retry waits, which should be none: every retry-policy test switches sleeping off or
runs on a virtual clock. ``asyncio.sleep`` on a virtual-time event loop waits for nothing and is
counted on its own row.

Other real waits are legitimate and reported as they are: polling a server's start-up, subprocess
waits, client timeouts against deliberately slow fake servers. Sleeps in subprocesses the tests
start (gunicorn, ``python -c`` checks) are outside the probe's reach.

This is the slow section: it takes as long as the test suite. ``bench/run.py --skip-suite``
leaves it out.
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


def _most(by_origin: list[dict[str, Any]]) -> str:
    if not by_origin:
        return ""
    top = by_origin[0]
    return f"; most from {top['origin']} ({top['calls']:,} calls, {top['seconds']:,.2f} s)"


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
    real, virtual, retry_waits = summary["real"], summary["virtual"], summary["retry_waits"]
    largest = real["largest"][0] if real["largest"] else None
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
            value=float(real["seconds"]),
            unit="s",
            ratios=(Ratio("wall", "wall time", real["seconds"] / wall if wall > 0 else 0.0),),
            note=f"{real['calls']} calls{_most(real['by_origin'])}",
            extra={key: value for key, value in real.items() if key != "largest"},
        ),
        Row(
            key="sleep_max",
            label="largest single real sleep",
            value=float(largest["seconds"]) if largest else 0.0,
            unit="s",
            note=_describe(largest) if largest else "",
            extra={"largest": real["largest"]},
        ),
        Row(
            key="retry_waits",
            label="real retry waits (retry.py, tenacity, backoff, stamina, anthropic)",
            value=float(retry_waits["real"]["calls"]),
            unit="count",
            target=Target("none", retry_waits["real"]["calls"] == 0),
            note=f"{retry_waits['real']['seconds']:.2f} s; {retry_waits['virtual']['calls']:,} more on virtual time",
            extra=retry_waits,
        ),
        Row(
            key="virtual",
            label="asyncio.sleep on virtual-time loops (not waited)",
            value=float(virtual["calls"]),
            unit="count",
            note=f"{virtual['seconds']:,.0f} s of virtual time{_most(virtual['by_origin'])}",
            extra=virtual,
        ),
    )
    return Section(
        key="suite",
        title="Test suite under the sleep probe (python -m pytest -q -p no:cacheprovider -p bench.sleep_probe)",
        rows=rows,
        notes=(
            "Real sleeps are time.sleep/asyncio.sleep calls in the pytest process that waited on the real clock; "
            "mocked sleeps are not counted, sleeps inside subprocesses the tests start are not seen.",
            "Virtual-time sleeps: asyncio.sleep on a loop whose clock is not time.monotonic (a simulation's loop).",
        ),
        params=asdict(sizes),
    )
