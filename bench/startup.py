"""Section ``startup``: import and start-up cost in wall time, against ``python -c pass``.

Each command runs as a fresh ``python`` subprocess from the repository root with this
interpreter: ``python -c pass`` (the baseline), ``import src.utils.retry``, ``python cli.py --help``
and, for context, ``import app`` (which loads Flask). A first round warms the file cache and the
bytecode caches and is dropped; then every round runs each command once, in an order rotated each
round, and each figure is the median. A command that exits with an error is still timed and is
flagged in the table.

One more run of each command under ``-X importtime`` tells which heavy packages it really loads
(``anthropic``, ``flask``, ``tenacity``, ``click``), to back the claims that importing the retry
module and printing the CLI's help load neither ``anthropic`` nor ``flask``. Quick sizes skip both
the warm-up round and this extra run.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import asdict, dataclass

from bench import REPO_ROOT
from bench.report import Ratio, Row, Section
from bench.timing import median, rotated

__all__ = ["COMMANDS", "DEFAULT", "HEAVY_PACKAGES", "QUICK", "Sizes", "run"]


@dataclass(frozen=True, slots=True)
class Sizes:
    """How many times each command runs."""

    rounds: int
    warm_up: bool = True
    """Run every command once first, unmeasured."""
    probe_imports: bool = True
    """Run every command once more under ``-X importtime`` to list the heavy packages it loads."""
    timeout: float = 60.0
    """Seconds one command may take before the section fails."""


DEFAULT = Sizes(rounds=11)
QUICK = Sizes(rounds=1, warm_up=False, probe_imports=False)

#: key -> (label, arguments after ``python``). The first is the baseline.
COMMANDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "python": ("python -c pass", ("-c", "pass")),
    "retry": ("import src.utils.retry", ("-c", "import src.utils.retry")),
    "cli_help": ("python cli.py --help", ("cli.py", "--help")),
    "app": ("import app (Flask)", ("-c", "import app")),
}

#: Packages whose presence in a start-up is worth reporting.
HEAVY_PACKAGES = ("anthropic", "flask", "tenacity", "click")


@dataclass(frozen=True, slots=True)
class _Run:
    seconds: float
    returncode: int
    stderr: str


def _run_once(arguments: tuple[str, ...], timeout: float) -> _Run:
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, *arguments],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=timeout,
        check=False,
    )
    seconds = time.perf_counter() - start
    return _Run(seconds, completed.returncode, completed.stderr.decode("utf-8", "replace"))


def _loaded_packages(arguments: tuple[str, ...], timeout: float) -> list[str]:
    """Which of :data:`HEAVY_PACKAGES` the command imports, read from ``-X importtime``."""
    stderr = _run_once(("-X", "importtime", *arguments), timeout).stderr
    imported = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            imported.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return [package for package in HEAVY_PACKAGES if package in imported]


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip()[:120] if lines else ""


def run(sizes: Sizes = DEFAULT) -> Section:
    """Time each of :data:`COMMANDS`; see the module docstring."""
    keys = list(COMMANDS)
    if sizes.warm_up:
        for key in keys:
            _run_once(COMMANDS[key][1], sizes.timeout)
    samples: dict[str, list[float]] = {key: [] for key in keys}
    failures: dict[str, _Run] = {}
    for round_index in range(sizes.rounds):
        for key in rotated(keys, round_index):
            result = _run_once(COMMANDS[key][1], sizes.timeout)
            samples[key].append(result.seconds)
            if result.returncode != 0:
                failures[key] = result

    baseline = median(samples["python"])
    rows = []
    for key in keys:
        label, arguments = COMMANDS[key]
        typical = median(samples[key])
        loads = _loaded_packages(arguments, sizes.timeout) if key != "python" and sizes.probe_imports else None
        note = ""
        if key != "python":
            note = f"+{(typical - baseline) * 1000:.0f} ms"
            if loads is not None:
                note += f"; loads {', '.join(loads) or 'none of ' + '/'.join(HEAVY_PACKAGES)}"
        failed = failures.get(key)
        if failed is not None:
            note = f"EXITED {failed.returncode} ({_last_line(failed.stderr)}); {note}"
        rows.append(
            Row(
                key=key,
                label=label,
                value=typical * 1000,
                unit="ms",
                ratios=() if key == "python" else (Ratio("python", "python -c pass", typical / baseline),),
                note=note,
                extra={
                    "median_ms": typical * 1000,
                    "min_ms": min(samples[key]) * 1000,
                    "delta_ms": (typical - baseline) * 1000,
                    "samples": len(samples[key]),
                    "returncode": 0 if failed is None else failed.returncode,
                    "heavy_packages_loaded": loads,
                },
            )
        )
    return Section(
        key="startup",
        title=f"Import and start-up, wall time (median of {sizes.rounds} interleaved runs)",
        rows=tuple(rows),
        notes=("Each command is a fresh subprocess of this interpreter, started from the repository root.",),
        params=asdict(sizes),
    )
