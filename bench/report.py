"""What a benchmark section returns, and how it becomes a table and a JSON document.

Each section builds a :class:`Section` of :class:`Row` objects. A row holds one measured figure,
its ratios to the baselines measured in the same run (the numbers that survive a noisy machine)
and, when the issue set one, a :class:`Target` with its verdict. :func:`render_table` prints the
sections as pipe tables aligned in plain text, which are also valid Markdown; :func:`document`
is the JSON written by ``bench/run.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Ratio", "Row", "Section", "Target", "document", "format_value", "render_table"]


@dataclass(frozen=True, slots=True)
class Ratio:
    """A row's figure divided by a baseline's, both measured in the same run."""

    against: str
    """The baseline row's key."""
    label: str
    """How the table names the baseline, e.g. ``"bare"``."""
    value: float


@dataclass(frozen=True, slots=True)
class Target:
    """A goal the issue set for a figure, and whether this run met it."""

    description: str
    """E.g. ``"<= 10x bare"``."""
    passed: bool


@dataclass(frozen=True, slots=True)
class Row:
    """One measured figure of a section."""

    key: str
    label: str
    value: float
    unit: str
    """One of ``ns/call``, ``ms``, ``s``, ``req/s``, ``calls/s``, ``count``."""
    ratios: tuple[Ratio, ...] = ()
    target: Target | None = None
    note: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Further numbers for the JSON only (medians, samples, counts)."""


@dataclass(frozen=True, slots=True)
class Section:
    """The result of one benchmark section."""

    key: str
    title: str
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    """The sizes it ran with."""
    seconds: float = 0.0
    """Wall time the section took."""
    error: str | None = None
    """Set when the section could not run to the end; its rows are then empty."""

    def row(self, key: str) -> Row:
        """The row called ``key``; raises ``KeyError`` if there is none."""
        for row in self.rows:
            if row.key == key:
                return row
        raise KeyError(key)


def format_value(value: float, unit: str) -> str:
    """A figure with its unit, rounded for reading: ``"31 ns"``, ``"13.2 µs"``, ``"2,410 req/s"``."""
    if unit == "ns/call":
        return f"{value:,.0f} ns" if value < 1000 else f"{value / 1000:,.1f} µs"
    if unit == "ms":
        return f"{value:,.1f} ms"
    if unit == "s":
        return f"{value:,.2f} s"
    if unit in ("req/s", "calls/s"):
        return f"{value:,.0f} {unit}"
    if unit == "count":
        return f"{value:,.0f}"
    return f"{value:,.3g} {unit}"


def _format_ratio(ratio: Ratio) -> str:
    digits = 2 if ratio.value < 10 else (1 if ratio.value < 100 else 0)
    return f"{ratio.value:,.{digits}f}× {ratio.label}"


def _cells(row: Row) -> list[str]:
    target = ""
    if row.target is not None:
        target = f"{row.target.description}: {'pass' if row.target.passed else 'MISS'}"
    result = format_value(row.value, row.unit)
    return [row.label, result, ", ".join(_format_ratio(r) for r in row.ratios), target, row.note]


_HEADER = ["Measure", "Result", "Ratio", "Target", "Note"]


def _pipe_table(rows: Sequence[Sequence[str]]) -> list[str]:
    keep = [i for i in range(len(_HEADER)) if i < 2 or any(row[i] for row in rows)]
    header = [_HEADER[i] for i in keep]
    body = [[row[i] for i in keep] for row in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(keep))]
    right = {1}  # numbers read best right-aligned

    def line(cells: Sequence[str]) -> str:
        padded = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if i in right else "-" * (w + 2) for i, w in enumerate(widths)) + "|"
    return [line(header), rule, *(line(cells) for cells in body)]


def render_table(sections: Iterable[Section], *, heading: str = "") -> str:
    """Every section as a titled pipe table, aligned in plain text (and valid Markdown)."""
    lines: list[str] = [heading, ""] if heading else []
    for section in sections:
        lines.append(f"{section.title} ({section.seconds:.0f} s)")
        lines.append("")
        if section.error is not None:
            lines.append(f"    FAILED: {section.error}")
        else:
            lines.extend(_pipe_table([_cells(row) for row in section.rows]))
        lines.extend(f"- {note}" for note in section.notes)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _row_json(row: Row) -> dict[str, Any]:
    return {
        "key": row.key,
        "label": row.label,
        "value": row.value,
        "unit": row.unit,
        "ratios": [{"against": r.against, "label": r.label, "value": r.value} for r in row.ratios],
        "target": None if row.target is None else {"description": row.target.description, "passed": row.target.passed},
        "note": row.note,
        "extra": dict(row.extra),
    }


def _section_json(section: Section) -> dict[str, Any]:
    return {
        "title": section.title,
        "seconds": section.seconds,
        "error": section.error,
        "params": dict(section.params),
        "notes": list(section.notes),
        "rows": [_row_json(row) for row in section.rows],
    }


def document(sections: Iterable[Section], meta: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON document: ``meta`` (machine, date, versions) and each section by key."""
    return {"meta": dict(meta), "sections": {section.key: _section_json(section) for section in sections}}
