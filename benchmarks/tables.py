"""Plain-text tables for the benchmark scripts' output."""

from __future__ import annotations


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    """Print ``rows`` under ``header`` with right-aligned columns (the first left-aligned)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        out = [str(cells[0]).ljust(widths[0])]
        out += [str(c).rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(out).rstrip()

    print(title)
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))
    print()
