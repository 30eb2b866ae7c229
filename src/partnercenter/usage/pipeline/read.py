"""Reading: which column of a source holds which field, and its rows with their numbers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from .. import formats

# The fields validation reads from every row, in the order ``Layout.pick`` returns them.
CHECKED = (
    "account",
    "category",
    "billed_cost",
    "currency",
    "start",
    "end",
    "list_cost",
    "effective_cost",
    "quantity",
    "billing_mode",
    "frequency",
    "provider",
    "publisher",
    "service_type",
    "line_id",
)
# The fields only a valid row's transform reads, in the order ``Layout.pick_rest`` returns them.
CARRIED = (
    "project",
    "tags",
    "billing_period_start",
    "billing_period_end",
    "service_name",
    "region_id",
    "charge_class",
    "description",
    "pricing_category",
    "unit",
    "service_category",
    "sku",
    "region_name",
    "resource_id",
    "resource_name",
    "resource_type",
    "order_id",
)


@dataclass(frozen=True)
class Layout:
    """Where a source's fields are.

    Every row is made ``width`` long and gets one extra "" at index ``width``, which absent
    columns point at: an absent or short column reads as "".
    """

    fmt: str
    header: list[str]
    width: int
    col: dict[str, int]
    col_name: dict[str, str]
    pick: Callable[[list[str]], tuple[str, ...]]
    pick_rest: Callable[[list[str]], tuple[str, ...]]
    # FOCUS identity: every non-empty column by name, in name order, so column order and absent
    # empty columns do not change it.
    pick_ordered: Callable[[list[str]], tuple[str, ...]]
    prefixes: list[str]

    @property
    def native(self) -> bool:
        return self.fmt == formats.NATIVE


def missing_columns(header: list[str], fmt: str) -> list[str]:
    return [c for c in formats.required_columns(fmt) if c not in header]


def layout(header: list[str], fmt: str) -> Layout:
    width = len(header)
    idx = {name: i for i, name in enumerate(header)}
    col = {logical: idx.get(formats.column_name(fmt, logical), width) for logical in formats.FIELDS}
    order = sorted(range(width), key=lambda i: header[i])
    getter: Any = itemgetter
    return Layout(
        fmt=fmt,
        header=header,
        width=width,
        col=col,
        col_name={logical: formats.column_name(fmt, logical) for logical in formats.FIELDS},
        pick=getter(*(col[f] for f in CHECKED)),
        pick_rest=getter(*(col[f] for f in CARRIED)),
        pick_ordered=getter(*order, width),  # the trailing "" keeps it a tuple for one column
        prefixes=[f"{header[i]}=" for i in order],
    )


def numbered(source: formats.Source) -> Iterator[tuple[int, list[str]]]:
    """The rows with the number errors give them (``source.first_row`` for the first)."""
    return enumerate(source.rows, source.first_row)
