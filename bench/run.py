"""Run the benchmarks, print a table and write the results as JSON.

    python bench/run.py                       # every section, moderate sizes (1 minute plus the test suite)
    python bench/run.py --quick --skip-suite  # tiny sizes, seconds; figures are rough
    python bench/run.py --only retry,http --out results.json
    python bench/run.py --json                # the JSON document on stdout instead of the table

Run it from anywhere with the project's interpreter; it imports the repository it lives in. The
sections are described in :mod:`bench`. Exit status: 0 when every section ran (whether or not it
met its target, which the table reports), 1 when a section failed to run, 2 for a usage error.
"""

from __future__ import annotations

import sys
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[1]
if not __package__:
    # Run as a script, Python put bench/ first on sys.path; import from the repository root instead.
    if sys.path and Path(sys.path[0] or ".").resolve() == _REPO_ROOT / "bench":
        sys.path[0] = str(_REPO_ROOT)
    elif str(_REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(_REPO_ROOT))

import dataclasses  # noqa: E402
import datetime as dt  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from typing import Any  # noqa: E402

import click  # noqa: E402

from bench.report import Section, document, render_table  # noqa: E402
from bench.timing import machine_description  # noqa: E402

__all__ = ["SECTIONS", "main", "run_sections"]

#: Section name -> (module under ``bench``, what it measures), in the order they run.
SECTIONS: dict[str, tuple[str, str]] = {
    "retry": ("retry_overhead", "retry decorators per call, success and one failure"),
    "startup": ("startup", "import and start-up wall time"),
    "http": ("http_errors", "error responses per second on gunicorn"),
    "simulation": ("simulation", "Monte Carlo calls per second"),
    "suite": ("suite", "test suite wall time and real sleeps (as long as the suite takes)"),
}

RESULTS_DIR = _REPO_ROOT / "bench" / "results"


def _run_one(name: str, *, quick: bool) -> Section:
    module = importlib.import_module(f"bench.{SECTIONS[name][0]}")
    sizes = module.QUICK if quick else module.DEFAULT
    start = time.perf_counter()
    try:
        section: Section = module.run(sizes)
    except Exception as exc:
        click.echo(traceback.format_exc(), err=True)
        section = Section(
            key=name,
            title=f"{SECTIONS[name][1]}",
            rows=(),
            params=dataclasses.asdict(sizes),
            error=f"{type(exc).__name__}: {exc}",
        )
    return dataclasses.replace(section, seconds=time.perf_counter() - start)


def run_sections(names: Sequence[str], *, quick: bool) -> tuple[list[Section], dict[str, Any]]:
    """Run the named sections in order; return them and the ``meta`` of the JSON document."""
    meta = machine_description()
    meta["quick"] = quick
    meta["sections"] = list(names)
    start = time.perf_counter()
    sections = []
    for index, name in enumerate(names, start=1):
        click.echo(f"[{index}/{len(names)}] {name}: {SECTIONS[name][1]} ...", err=True)
        sections.append(_run_one(name, quick=quick))
    meta["total_seconds"] = time.perf_counter() - start
    meta["load_average_end"] = machine_description()["load_average"]
    return sections, meta


def _heading(meta: dict[str, Any]) -> str:
    load = meta.get("load_average") or ["?"]
    load_end = meta.get("load_average_end") or ["?"]
    return (
        f"Measured {meta['date']} on {meta['cpu_model']} ({meta['cpus']} CPUs, {meta['machine']}), "
        f"{meta['platform']}, Python {meta['python']}, commit {meta['commit'] or 'unknown'}; "
        f"1-min load average {load[0]} at start, {load_end[0]} at end; "
        f"{'--quick sizes, ' if meta['quick'] else ''}{meta['total_seconds']:.0f} s in all."
    )


def _parse_only(value: str | None) -> list[str]:
    if value is None:
        return list(SECTIONS)
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in SECTIONS]
    if unknown or not names:
        raise click.BadParameter(
            f"unknown section {', '.join(map(repr, unknown)) or '(none given)'}; choose from {', '.join(SECTIONS)}",
            param_hint="--only",
        )
    return [name for name in SECTIONS if name in names]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--quick", is_flag=True, help="Tiny sizes: a few seconds per section, rough figures (the smoke test).")
@click.option(
    "--only",
    metavar="SECTION[,SECTION]",
    help=f"Run only these sections, from: {', '.join(SECTIONS)}.",
)
@click.option(
    "--skip-suite", is_flag=True, help="Leave out the test-suite section, which takes as long as the test suite."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the JSON document here (default: bench/results/bench-<UTC time>.json).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document on stdout instead of the table.")
def main(quick: bool, only: str | None, skip_suite: bool, out: Path | None, as_json: bool) -> None:
    """Measure what the retry decorators and error handlers cost, next to the alternatives."""
    names = _parse_only(only)
    if skip_suite:
        names = [name for name in names if name != "suite"]
    if not names:
        raise click.UsageError("--skip-suite left no section to run")
    sections, meta = run_sections(names, quick=quick)
    doc = document(sections, meta)
    text = json.dumps(doc, indent=2, allow_nan=False) + "\n"
    if out is None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        out = RESULTS_DIR / f"bench-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    click.echo(f"wrote {out}", err=True)
    if as_json:
        click.echo(text, nl=False)
    else:
        click.echo(render_table(sections, heading=_heading(meta)))
    if any(section.error is not None for section in sections):
        sys.exit(1)


if __name__ == "__main__":
    main()
