"""Benchmarks: what the retry decorators and the error handlers cost, measured against the alternatives.

Run them all with ``python bench/run.py`` from the repository root (``--quick`` for tiny sizes,
``--only`` for some sections, ``--json`` for the document instead of the table). The machine they
run on is shared and noisy, so every figure that matters is a ratio between things measured in the
same run, interleaved in rounds so that noise hits all of them alike.

One module per section, each with a ``Sizes`` dataclass, ``DEFAULT`` and ``QUICK`` sizes and a
``run(sizes) -> Section``:

* :mod:`bench.retry_overhead` — ``ai_retry``, ``file_retry`` and ``network_retry`` per call on
  success and on one transient failure, against a bare call, tenacity, backoff and stamina.
* :mod:`bench.startup` — ``import src.utils.retry``, ``python cli.py --help`` and ``import app``
  in wall time, against ``python -c pass``.
* :mod:`bench.http_errors` — requests per second of the JSON error responses on gunicorn, against
  a 200 route of the same app and Flask's own HTML 404 (apps in :mod:`bench.bench_app`, load from
  :mod:`bench.loadgen`).
* :mod:`bench.simulation` — Monte Carlo calls per second through the real policies, against a bare
  tenacity loop.
* :mod:`bench.suite` — the test suite's wall time and every real sleep it makes, recorded by the
  pytest plugin :mod:`bench.sleep_probe`.

Shared pieces: :mod:`bench.report` (results and the table), :mod:`bench.timing` (interleaved
rounds, medians, the machine description).

None of this is part of the test suite; ``tests/test_bench_smoke.py`` runs it at tiny sizes and
checks only the shape of what comes out.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["REPO_ROOT"]

#: The repository root: the working directory of every subprocess the benchmarks start.
REPO_ROOT = Path(__file__).resolve().parents[1]
