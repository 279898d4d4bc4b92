"""``check-errors``: prove, case by case, that a Flask app keeps the JSON error contract.

Use it from code as the command does::

    from src.checker import load_factory, render_table, run_in_process

    report = run_in_process(load_factory("app:create_app"))
    print(render_table(report))          # one row per case, then "N passed, M failed"

or :func:`run_live` with :func:`parse_base_url` against a running server. The modules:

* :mod:`~src.checker.cases`: the types (request, reply, case, expectation);
* :mod:`~src.checker.catalogue`: every case, and which mode can run it;
* :mod:`~src.checker.expectations`: the headers an exception obliges, the text it must not leak;
* :mod:`~src.checker.checks`: the checks on one reply;
* :mod:`~src.checker.runner`: one case through a send function, and the report of a run;
* :mod:`~src.checker.inprocess` and :mod:`~src.checker.live`: the two drivers;
* :mod:`~src.checker.fuzz`: ``--fuzz``, Hypothesis-generated exceptions (imports Hypothesis);
* :mod:`~src.checker.report`: the table and the JSON document.
"""

from src.checker.catalogue import cases_for, catalogue
from src.checker.inprocess import AppLoadError, load_factory, run_in_process
from src.checker.live import Unreachable, parse_base_url, run_live
from src.checker.report import render_table, report_document
from src.checker.runner import CaseResult, Report

__all__ = [
    "AppLoadError",
    "CaseResult",
    "Report",
    "Unreachable",
    "cases_for",
    "catalogue",
    "load_factory",
    "parse_base_url",
    "render_table",
    "report_document",
    "run_in_process",
    "run_live",
]
