"""The benchmarks at tiny sizes: every section runs and reports the documented shape.

Nothing here looks at a timing; the figures of a tiny run on a test machine mean nothing. The
HTTP section runs in this process, so its servers are stopped by its own ``finally`` even when an
assertion fails.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bench import http_errors, suite
from bench.report import Ratio, Row, Section, Target, render_table
from bench.run import SECTIONS, main

REPO_ROOT = Path(__file__).resolve().parents[1]

_ROW_KEYS = {"key", "label", "value", "unit", "ratios", "target", "note", "extra"}
_EXPECTED_ROWS = {
    "retry": {
        *(
            f"success_{name}"
            for name in ("bare", "ai_retry", "file_retry", "network_retry", "tenacity", "backoff", "stamina")
        ),
        *(f"failure_{name}" for name in ("ai_retry", "file_retry", "network_retry", "tenacity")),
    },
    "startup": {"python", "retry", "cli_help", "app"},
    "simulation": {f"{name}_{side}" for name in ("ai", "file", "network") for side in ("ours", "tenacity")},
}


_SLEEPY_TESTS = """
import asyncio
import time

from tenacity import nap


class FastClockLoop(asyncio.SelectorEventLoop):
    \"""Each reading of the clock is 100 s later, so sleeps end at once, as on a virtual-time loop.\"""

    readings = 0

    def time(self):
        self.readings += 1
        return super().time() + 100.0 * self.readings


def test_real_sleeps():
    time.sleep(0.02)
    asyncio.run(asyncio.sleep(0.01))
    nap.sleep(0.001)


def test_a_cancelled_sleep_counts_for_the_time_it_lasted():
    async def main():
        task = asyncio.ensure_future(asyncio.sleep(3600))
        await asyncio.wait([task], timeout=0.001)  # lets the sleep start, without sleeping itself
        task.cancel()

    asyncio.run(main())


def test_virtual_sleep():
    loop = FastClockLoop()
    try:
        loop.run_until_complete(asyncio.sleep(5))
    finally:
        loop.close()
"""


def _positive(number: object) -> bool:
    return isinstance(number, int | float) and not isinstance(number, bool) and math.isfinite(number) and number > 0


def _check_section_json(section: dict[str, Any], expected_rows: set[str]) -> None:
    assert section["error"] is None
    assert section["seconds"] >= 0
    assert isinstance(section["params"], dict)
    assert {row["key"] for row in section["rows"]} == expected_rows
    for row in section["rows"]:
        assert set(row) == _ROW_KEYS
        assert _positive(row["value"]), row
        assert all(_positive(ratio["value"]) for ratio in row["ratios"]), row
        assert row["target"] is None or isinstance(row["target"]["passed"], bool)


def test_quick_run_from_the_repository_root_prints_and_writes_the_same_document(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    completed = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--only", "retry,startup,simulation", "--json", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    printed = json.loads(completed.stdout)
    assert printed == json.loads(out.read_text(encoding="utf-8"))

    assert {"date", "cpus", "cpu_model", "python", "versions", "quick", "total_seconds"} <= set(printed["meta"])
    assert printed["meta"]["quick"] is True
    assert list(printed["sections"]) == ["retry", "startup", "simulation"]
    for name, expected in _EXPECTED_ROWS.items():
        _check_section_json(printed["sections"][name], expected)
    retry_targets = [row for row in printed["sections"]["retry"]["rows"] if row["target"] is not None]
    assert {row["key"] for row in retry_targets} == {"success_ai_retry", "success_file_retry", "success_network_retry"}
    failures = [row for row in printed["sections"]["retry"]["rows"] if row["key"].startswith("failure_")]
    assert all(row["extra"]["through_tenacity"] for row in failures)


@pytest.mark.live
def test_http_section_serves_both_apps_and_measures_every_route() -> None:
    section = http_errors.run(http_errors.QUICK)

    assert section.error is None
    assert [row.key for row in section.rows] == [route.key for route in http_errors.ROUTES]
    for row in section.rows:
        assert row.unit == "req/s"
        assert row.value > 0
        assert row.extra["socket_errors"] == 0
        assert all(ratio.value > 0 for ratio in row.ratios)
    error_rows = [row for row in section.rows if row.key.startswith("json_")]
    assert error_rows
    assert all(row.target is not None for row in error_rows)
    assert {ratio.against for ratio in section.row("json_500").ratios} == {"healthz", "flask_404"}


def _child_commands() -> list[str]:
    pid = os.getpid()
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii").split()
    commands = []
    for child in children:
        with contextlib.suppress(OSError):
            commands.append(Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode())
    return commands


@pytest.mark.live
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child processes from Linux's /proc")
def test_servers_are_stopped_even_when_one_fails_to_start(tmp_path: Path) -> None:
    apps = {"plain": "bench.bench_app:create_plain_app()", "broken": "bench.bench_app:no_such_factory()"}

    with pytest.raises(RuntimeError, match="gunicorn exited"), http_errors.gunicorn(apps, workers=1, log_dir=tmp_path):
        pytest.fail("a server that cannot start must not be yielded")

    assert not [command for command in _child_commands() if "gunicorn" in command]


def test_suite_section_records_real_sleeps_and_tells_retry_waits_apart(tmp_path: Path) -> None:
    test_file = tmp_path / "test_sleepy.py"
    test_file.write_text(_SLEEPY_TESTS, encoding="utf-8")

    # Without Hypothesis's plugin, whose import alone takes seconds.
    section = suite.run(suite.Sizes(paths=(str(test_file),), options=("-p", "no:hypothesispytest"), timeout=60))

    assert section.error is None
    assert section.row("wall").extra["returncode"] == 0
    # Real: 0.02 + 0.01 + 0.001 requested, and the cancelled sleep(3600) for the time it lasted.
    assert section.row("sleep_total").extra["calls"] == 4
    assert 0.031 < section.row("sleep_total").value < 60
    assert section.row("sleep_max").value == pytest.approx(0.02)
    assert "test_sleepy.py" in section.row("sleep_max").note
    retry_waits = section.row("retry_waits")
    assert retry_waits.value == 1
    assert retry_waits.target == Target("none", False)
    assert retry_waits.extra["real"]["examples"][0]["caller"].startswith("tenacity/nap.py")
    virtual = section.row("virtual")
    assert virtual.value == 1
    assert virtual.extra["seconds"] == pytest.approx(5.0)


@pytest.mark.parametrize(
    "arguments",
    [["--only", "nope"], ["--only", ","], ["--only", "suite", "--skip-suite"]],
    ids=["unknown-section", "empty-list", "nothing-left"],
)
def test_choosing_no_known_section_is_a_usage_error(arguments: list[str]) -> None:
    result = CliRunner().invoke(main, arguments)

    assert result.exit_code == 2
    assert "Usage:" in result.output


def test_every_section_is_a_module_with_default_and_quick_sizes() -> None:
    import importlib

    for module_name, _summary in SECTIONS.values():
        module = importlib.import_module(f"bench.{module_name}")
        assert callable(module.run)
        assert type(module.DEFAULT) is type(module.QUICK)


def test_table_is_aligned_and_flags_a_missed_target() -> None:
    section = Section(
        key="demo",
        title="Demo",
        rows=(
            Row("base", "baseline", 31.0, "ns/call"),
            Row("slow", "slow one", 13_000.0, "ns/call", (Ratio("base", "bare", 419.4),), Target("≤ 10× bare", False)),
        ),
        notes=("a note",),
    )

    text = render_table([section], heading="Measured today")

    table = [line for line in text.splitlines() if line.startswith("|")]
    assert len(table) == 4
    assert len({len(line) for line in table}) == 1
    assert "13.0 µs" in text
    assert "419× bare" in text
    assert "≤ 10× bare: MISS" in text
    assert text.startswith("Measured today")
    assert "- a note" in text
