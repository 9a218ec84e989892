"""Tables that read at 80 columns and in logs.

Numbers are never cut. Ids, run names and other text are shortened in the middle with an
ellipsis when the table would not fit (``django__dj…-11099``), never wrapped into narrow pieces;
a ``whole`` column (an endpoint URL) is never shortened. Cells are plain text: control characters
are shown escaped, and nothing in a cell is read as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from swerm_plugin.cli.options import printable, stdout_console

ELLIPSIS = "…"
MIN_TEXT_WIDTH = 8


@dataclass(frozen=True)
class Column:
    header: str
    kind: Literal["number", "text", "whole"] = "text"

    @property
    def justify(self) -> Literal["left", "right"]:
        return "right" if self.kind == "number" else "left"


def shorten_middle(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters: its head and tail around an ellipsis."""
    if len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    head = (width - 1 + 1) // 2
    tail = width - 1 - head
    return text[:head] + ELLIPSIS + (text[-tail:] if tail else "")


def column_widths(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], total: int
) -> list[int]:
    """Widths that fit ``total`` characters (borders included) where possible: numbers and
    whole columns keep their width; the widest text columns give way first."""
    wanted = [
        max([len(column.header), *(len(row[i]) for row in rows)])
        for i, column in enumerate(columns)
    ]
    available = total - (3 * len(columns) + 1)  # "│ " + cell + " " per column, and the edge
    fixed = sum(w for w, c in zip(wanted, columns, strict=True) if c.kind != "text")
    flexible = [i for i, c in enumerate(columns) if c.kind == "text"]
    budget = available - fixed
    widths = list(wanted)
    while flexible and sum(widths[i] for i in flexible) > budget:
        widest = max(flexible, key=lambda i: widths[i])
        if widths[widest] <= MIN_TEXT_WIDTH:
            break  # as narrow as text columns go: the table is wider than the screen
        widths[widest] -= 1
    return widths


def render_table(
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Any]],
    *,
    width: int | None = None,
) -> Any:
    """A rich ``Table`` of ``rows`` (cells turned into printable text) sized for ``width``."""
    from rich.table import Table
    from rich.text import Text

    cells = [[printable("" if cell is None else str(cell)) for cell in row] for row in rows]
    widths = column_widths(columns, cells, width or stdout_console().width)
    table = Table(title=title)
    for column, size in zip(columns, widths, strict=True):
        table.add_column(
            column.header,
            justify=column.justify,
            no_wrap=column.kind != "whole",
            min_width=size if column.kind == "number" else None,
            max_width=None if column.kind == "whole" else size,
            overflow="fold" if column.kind == "whole" else "ellipsis",
        )
    for row in cells:
        table.add_row(
            *(
                Text(cell if column.kind != "text" else shorten_middle(cell, size))
                for cell, column, size in zip(row, columns, widths, strict=True)
            )
        )
    return table


def print_table(title: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> None:
    stdout_console().print(render_table(title, columns, rows))
