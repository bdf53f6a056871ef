"""The one table ``python -m benchmarks`` prints."""

from __future__ import annotations

from .harness import Row

HEADER = ("measurement", "value", "baseline", "ratio", "target", "pass/fail")


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if value != value:  # NaN
        return "n/a"
    if unit == "µs":
        text = f"{value * 1e6:,.0f}"
    elif unit == "ms":
        text = f"{value * 1e3:,.1f}"
    elif unit == "s":
        text = f"{value:,.2f}"
    elif unit in ("MiB",):
        text = f"{value / 1024 / 1024:,.1f}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    else:
        text = f"{value:,.2f}"
    return f"{text} {unit}".strip()


def cells(row: Row) -> tuple[str, ...]:
    value = _number(row.value, row.unit)
    baseline = _number(row.baseline, row.baseline_unit or row.unit)
    ratio = "-" if row.ratio is None else f"{row.ratio:,.2f}x"
    verdict = {True: "PASS", False: "FAIL", None: "-"}[row.passed]
    name = row.measurement + (f" [{row.note}]" if row.note else "")
    return (name, value, baseline, ratio, row.target or "-", verdict)


def render(rows: list[Row]) -> str:
    table = [HEADER, *(cells(row) for row in rows)]
    widths = [max(len(line[column]) for line in table) for column in range(len(HEADER))]
    lines = []
    for number, line in enumerate(table):
        lines.append(
            "  ".join(
                cell.ljust(width) if column == 0 else cell.rjust(width)
                for column, (cell, width) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def render_rst(rows: list[Row]) -> str:
    """The table as an RST grid-less ``simple`` table (for docs/performance.rst)."""
    table = [HEADER, *(cells(row) for row in rows)]
    widths = [max(len(line[column]) for line in table) for column in range(len(HEADER))]
    rule = "  ".join("=" * width for width in widths)
    out = [rule]
    for number, line in enumerate(table):
        out.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
        if number == 0:
            out.append(rule)
    out.append(rule)
    return "\n".join(out)
