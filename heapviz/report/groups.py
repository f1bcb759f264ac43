"""A fleet's --group-by groups as the PDF and Markdown reports word them: each group's value in
the report's unit and its share of all groups."""

from __future__ import annotations

from heapviz.model import Value
from heapviz.report.collect import ReportData
from heapviz.units import format_value


def group_value_text(r: ReportData, v: Value) -> str:
    """A group's value of the report's sample type, in the report's unit (`1.5MB`, `120`)."""
    return format_value(v, r.sample_units.get(r.sample_type, "count"), r.unit)


def group_share(r: ReportData, v: Value) -> str:
    """A group's share of all groups' total of the report's sample type: `41.2%`."""
    total = sum(abs(g.value) for g in r.groups)
    return f"{100 * abs(v) / total:.1f}%" if total else "0%"
