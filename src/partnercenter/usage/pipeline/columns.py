"""Column kernels of the block path (columnar.py): each computes for a whole column what
transform.py and validate.py compute for one row, with Python once per distinct value."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from hashlib import blake2b
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from partnercenter.core import money

from .read import Layout
from .transform import CustomerEntry, Customers, Instant, Times, association_at

# field, limit, optional (an empty text is no amount)
AMOUNT_FIELDS = (
    ("billed_cost", money.MAX_AMOUNT, False),
    ("list_cost", money.MAX_AMOUNT, True),
    ("effective_cost", money.MAX_AMOUNT, True),
    ("quantity", money.MAX_QUANTITY, True),
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICRO = dt.timedelta(microseconds=1)


def amounts(texts: pa.Array, limit: Any, optional: bool) -> money.AmountColumn | None:
    return money.amount_column(texts, limit, optional)


def _micros(value: dt.datetime) -> int:
    return (value - _EPOCH) // _MICRO


class Instants:
    """A column of timestamps: each distinct text parsed once (transform.Times)."""

    def __init__(self, values: list[Instant], indices: pa.Array) -> None:
        self.values = values
        self.index = indices

        def column(items: list[Any], kind: pa.DataType) -> pa.Array:
            return pc.take(pa.array(items, kind), indices)

        self.micros = column([_micros(v[0]) for v in values], pa.int64())
        self.day = column([v[1] for v in values], pa.date32())
        self.month = column([v[2] for v in values], pa.date32())
        self.day_text = column([v[4] for v in values], pa.string())
        self.month_text = column([v[5] for v in values], pa.string())
        self._column = column

    def stored(self, pg: bool) -> pa.Array:
        """As the line item stores it: the UTC instant (PostgreSQL), SQLite's naive UTC text."""
        if pg:
            return self._column([v[0].isoformat() for v in self.values], pa.string())
        return self._column([v[3] for v in self.values], pa.string())


def instants(times: Times, texts: pa.Array, optional: bool) -> Instants | None:
    """The column's instants (null where empty and ``optional``); None when a text is not one."""
    if optional:
        texts = pc.if_else(pc.equal(texts, ""), pa.scalar(None, pa.string()), texts)
    enc = pc.dictionary_encode(texts)
    values = []
    for text in enc.dictionary.to_pylist():
        try:
            values.append(times.cache.get(text) or times.parse(text))
        except ValueError:
            return None
    return Instants(values, enc.indices)


def per_combination(function: Callable[[str, str, str], str], *columns: pa.Array) -> pa.DictionaryArray:
    """``function`` of three text columns, called once per distinct combination (the block has
    no NUL character, which joins them)."""
    enc = pc.dictionary_encode(pc.binary_join_element_wise(*columns, "\x00"))
    results = [function(*combo.split("\x00")) for combo in enc.dictionary.to_pylist()]
    return pa.DictionaryArray.from_arrays(enc.indices, pa.array(results, pa.string()))


def associations(
    entries: list[CustomerEntry], account_index: pa.Array, start: Instants
) -> tuple[pa.Array, pa.Array, pa.Array] | None:
    """Customer, partner and association type of each row at its charge time (association_at);
    None when a row's customer had no association in force then."""
    customers = pc.take(pa.array([e[0] for e in entries], pa.int64()), account_index)
    if all(len(e[1]) == 1 for e in entries):
        # One association each (the common case): compared column-wise.
        since = pc.take(pa.array([_micros(e[1][0]) for e in entries], pa.int64()), account_index)
        until = pc.take(pa.array([_until(e[2][0][0]) for e in entries], pa.int64()), account_index)
        ok = pc.and_(pc.greater_equal(start.micros, since), pc.less(start.micros, until))
        if not pc.all(ok).as_py():
            return None
        partners = pc.take(pa.array([e[2][0][1] for e in entries], pa.int64()), account_index)
        kinds = pc.take(pa.array([e[2][0][2] for e in entries], pa.string()), account_index)
        return customers, partners, kinds
    # Several associations: once per distinct (customer, charge start).
    pair = pc.add(pc.multiply(pc.cast(account_index, pa.int64()), len(start.values)), pc.cast(start.index, pa.int64()))
    enc = pc.dictionary_encode(pair)
    found = []
    for key in enc.dictionary.to_pylist():
        at = association_at(entries[key // len(start.values)], start.values[key % len(start.values)][0])
        if at is None:
            return None
        found.append(at)
    partners = pc.take(pa.array([f[0] for f in found], pa.int64()), enc.indices)
    kinds = pc.take(pa.array([f[1] for f in found], pa.string()), enc.indices)
    return customers, partners, kinds


def _until(valid_to: dt.datetime | None) -> int:
    return _micros(valid_to) if valid_to is not None else 2**63 - 1


def identities(cols: list[pa.Array], layout: Layout) -> list[bytes]:
    """transform.identity_function's 16-byte identities: every non-empty column by name, in name
    order, joined in one kernel (each entry led by the separator, the first one's cut off when
    hashing); BLAKE2b once per row."""
    null = pa.scalar(None, pa.string())
    parts = []
    for i, prefix in zip(sorted(range(layout.width), key=lambda i: layout.header[i]), layout.prefixes, strict=True):
        empty = pc.equal(cols[i], "")
        parts.append(pc.if_else(empty, null, pa.scalar("\x1f" + prefix)))
        parts.append(pc.if_else(empty, null, cols[i]))
    joined = pc.cast(pc.binary_join_element_wise(*parts, "", null_handling="skip"), pa.binary())
    return [blake2b(s[1:], digest_size=16).digest() for s in joined.to_pylist()]


def classification(category: pa.Array, billed_text: pa.Array) -> pa.Array:
    """transform._classify column-wise (a canonical text is negative when it starts with "-")."""
    spent = pc.is_in(category, value_set=pa.array(["Usage", "Purchase"]))
    negative = pc.starts_with(billed_text, "-")
    other = pc.if_else(pc.equal(category, "Tax"), "tax", "adjustment")
    return pc.if_else(spent, pc.if_else(negative, "refund", "expenditure"), other)


def corrections(customers: Customers, partners: pa.Array, start: Instants) -> pa.Array:
    """Customers.is_correction once per distinct (partner, charge month)."""
    key = pc.binary_join_element_wise(pc.cast(partners, pa.string()), start.month_text, "|")
    enc = pc.dictionary_encode(key)
    flags = []
    for k in enc.dictionary.to_pylist():
        partner, month = k.split("|")
        flags.append(customers.is_correction(int(partner), dt.date.fromisoformat(month)))
    return pc.take(pa.array(flags, pa.bool_()), enc.indices)


def truncated(texts: pa.Array, length: int) -> pa.Array:
    """The first ``length`` characters (code points, as Python slices)."""
    longest = pc.max(pc.utf8_length(texts)).as_py()
    return texts if not longest or longest <= length else pc.utf8_slice_codeunits(texts, 0, length)
