"""What is derived from a row: identity, classification, billing-zone day and month, the
customer and its association at charge time, the correction flag, and the stored values."""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from itertools import compress
from operator import add as concat
from typing import Any, NamedTuple

from django.conf import settings

from partnercenter.core import limits
from partnercenter.core.money import canonical
from partnercenter.partners.models import Customer, CustomerAssociation

from ..models import ClosedMonth
from .read import Layout

_new_tuple: Any = tuple.__new__
PRELOAD_CUSTOMERS = 200_000  # below this, one query loads every customer for a batch
_CACHED_TIMES = 200_000
_CACHED_TAGS = 50_000

LINE_COLUMNS = (
    "identity",
    "batch_id",
    "customer_id",
    "partner_id",
    "association_type",
    "charge_period_start",
    "charge_period_end",
    "charge_day",
    "charge_month",
    "billing_period_start",
    "billing_period_end",
    "charge_category",
    "charge_class",
    "classification",
    "charge_description",
    "charge_frequency",
    "pricing_category",
    "billed_cost",
    "list_cost",
    "effective_cost",
    "billing_currency",
    "pricing_quantity",
    "pricing_unit",
    "provider_name",
    "publisher_name",
    "service_type",
    "service_name",
    "service_category",
    "sku_id",
    "region_id",
    "region_name",
    "resource_id",
    "resource_name",
    "resource_type",
    "x_project",
    "x_billing_mode",
    "x_order_id",
    "x_line_id",
    "is_correction",
    "source_row",
)
# What a row says, as stored (not what ingestion derived from it, nor when): two native rows with
# one line id must agree on all of these. Stored column -> logical field (formats.FIELDS).
CONTENT_COLUMNS = {
    "customer_id": "account",
    "charge_period_start": "start",
    "charge_period_end": "end",
    "billing_period_start": "billing_period_start",
    "billing_period_end": "billing_period_end",
    "charge_category": "category",
    "charge_class": "charge_class",
    "charge_description": "description",
    "charge_frequency": "frequency",
    "pricing_category": "pricing_category",
    "billed_cost": "billed_cost",
    "list_cost": "list_cost",
    "effective_cost": "effective_cost",
    "billing_currency": "currency",
    "pricing_quantity": "quantity",
    "pricing_unit": "unit",
    "provider_name": "provider",
    "publisher_name": "publisher",
    "service_type": "service_type",
    "service_name": "service_name",
    "service_category": "service_category",
    "sku_id": "sku",
    "region_id": "region_id",
    "region_name": "region_name",
    "resource_id": "resource_id",
    "resource_name": "resource_name",
    "resource_type": "resource_type",
    "x_project": "project",
    "x_billing_mode": "billing_mode",
    "x_order_id": "order_id",
}
CONTENT_AT = [LINE_COLUMNS.index(c) for c in CONTENT_COLUMNS]
SOURCE_ROW_AT = LINE_COLUMNS.index("source_row")
CHARGE_MONTH_AT = LINE_COLUMNS.index("charge_month")
LINE_ID_AT = LINE_COLUMNS.index("x_line_id")

# A customer: (pk, its associations' valid_from in order, (valid_to, partner id, type) for each).
CustomerEntry = tuple[int, list[dt.datetime], list[tuple[dt.datetime | None, int, str]]]
# A parsed timestamp: (UTC datetime, billing-zone day, its month, and their SQLite texts).
Instant = tuple[dt.datetime, dt.date, dt.date, str, str, str]


def _classify(category: str, billed: Decimal) -> str:
    """The classification every total is kept by: the one definition."""
    if category == "Usage" or category == "Purchase":
        return "expenditure" if billed >= 0 else "refund"
    if category == "Tax":
        return "tax"
    return "adjustment"


classify = _classify


def billing_mode(explicit: str, frequency: str, category: str) -> str:
    if explicit:
        return explicit
    if frequency == "Usage-Based":
        return "pay_per_use"
    if frequency == "Recurring":
        return "prepaid_monthly"
    if frequency == "One-Time" and category == "Purchase":
        return "prepaid_yearly"
    return "other"


def service_type(explicit: str, provider: str, publisher: str) -> str:
    if explicit:
        return explicit
    return "marketplace" if publisher and provider and publisher != provider else "cloud"


def project_from_tags(tags: str) -> str:
    if "roject" not in tags:
        return ""
    try:
        parsed = json.loads(tags)
    except ValueError:
        return ""
    if isinstance(parsed, dict):
        for key in ("x_Project", "Project", "project"):
            if parsed.get(key):
                return str(parsed[key])[:100]
    return ""


def _sqlite_dt(value: dt.datetime) -> str:
    # Django's SQLite format for aware datetimes under USE_TZ: naive UTC text.
    return value.replace(tzinfo=None).isoformat(" ")


class Times:
    """Timestamp text -> :data:`Instant`, cached (a batch repeats a few hundred distinct hours)."""

    def __init__(self) -> None:
        self.tz = settings.BILLING_TIME_ZONE
        self.cache: dict[str, Instant] = {}

    def parse(self, text: str) -> Instant:
        """Raises ValueError (or limits.OutOfRange) for text that is not an instant we take."""
        hit = self.cache.get(text)
        if hit is not None:
            return hit
        value = dt.datetime.fromisoformat(text)
        if value.tzinfo is None:
            raise ValueError("needs a time zone (FOCUS timestamps are UTC, e.g. 2026-05-01T00:00:00Z)")
        value = limits.check_instant(value).astimezone(dt.UTC)
        day = value.astimezone(self.tz).date()
        month = day.replace(day=1)
        hit = (value, day, month, _sqlite_dt(value), day.isoformat(), month.isoformat())
        if len(self.cache) < _CACHED_TIMES:
            self.cache[text] = hit
        return hit


class Customers:
    """Per-batch cache of customers and their association history, and the closed months."""

    def __init__(self) -> None:
        self.entries: dict[str, CustomerEntry | None] = {}
        self.preloaded = False
        self.complete = False  # every customer is in ``entries``
        self.closed = set(ClosedMonth.objects.values_list("partner_id", "month"))
        # Months are closed oldest first from the ledger's first billed month: a row for a month
        # before a partner's first closed month arrives after that month's bill was due, so it is
        # a correction too, carried by the next bill (rule B2).
        self.first_closed: dict[int, dt.date] = {}
        for partner, month in self.closed:
            if month < self.first_closed.get(partner, dt.date.max):
                self.first_closed[partner] = month

    def get(self, account: str) -> CustomerEntry | None:
        if account in self.entries:
            return self.entries[account]
        if not self.preloaded:
            self.preloaded = True
            if self._preload():
                self.complete = True
                return self.entries.get(account)
        c = Customer.objects.filter(account_id=account).values_list("pk", flat=True).first()
        if c is None:
            self.entries[account] = None
            return None
        assocs = list(
            CustomerAssociation.objects.filter(customer_id=c)
            .order_by("valid_from")
            .values_list("valid_from", "valid_to", "partner_id", "association_type")
        )
        entry = (c, [a[0] for a in assocs], [(a[1], a[2], a[3]) for a in assocs])
        self.entries[account] = entry
        return entry

    def load_all(self) -> bool:
        """Load every customer now when there are not too many; whether they all are loaded."""
        if not self.preloaded:
            self.preloaded = True
            self.complete = self._preload()
        return self.complete

    def _preload(self) -> bool:
        """Load every customer and association in two queries when there are not too many."""
        if Customer.objects.count() > PRELOAD_CUSTOMERS:
            return False
        ids = dict(Customer.objects.values_list("pk", "account_id"))
        by_customer: dict[int, list[tuple[dt.datetime, dt.datetime | None, int, str]]] = defaultdict(list)
        for row in CustomerAssociation.objects.order_by("customer_id", "valid_from").values_list(
            "customer_id", "valid_from", "valid_to", "partner_id", "association_type"
        ):
            by_customer[row[0]].append(row[1:])
        for pk, account in ids.items():
            assocs = by_customer.get(pk, [])
            self.entries[account] = (pk, [a[0] for a in assocs], [(a[1], a[2], a[3]) for a in assocs])
        return True

    def is_correction(self, partner_id: int, month: dt.date) -> bool:
        """A charge for a closed month, or for one before the partner's first closed month."""
        return (partner_id, month) in self.closed or month < self.first_closed.get(partner_id, month)


def association_at(entry: CustomerEntry, start: dt.datetime) -> tuple[int, str] | None:
    """The partner and association type in force for the customer at ``start``."""
    _customer, starts, rest = entry
    k = bisect.bisect_right(starts, start) - 1
    if k < 0:
        return None
    valid_to, partner_id, association_type = rest[k]
    if valid_to is None or start < valid_to:
        return partner_id, association_type
    return None


def identity_function(layout: Layout) -> Callable[[list[str], str], bytes]:
    """The 16-byte identity of a row (its line id for native rows, else every non-empty column)."""
    blake2b = hashlib.blake2b
    if layout.native:

        def native(_row: list[str], line_id: str) -> bytes:
            return blake2b(f"native\x1f{line_id}".encode(), digest_size=16).digest()

        return native
    pick_ordered, prefixes = layout.pick_ordered, layout.prefixes

    def focus(row: list[str], _line_id: str) -> bytes:
        values = pick_ordered(row)
        joined = "\x1f".join(map(concat, compress(prefixes, values), filter(None, values)))
        return blake2b(joined.encode(), digest_size=16).digest()

    return focus


class Checked(NamedTuple):
    """A row's fields as validation parsed them (meaningful only for a valid row)."""

    customer_id: int
    partner_id: int
    association_type: str
    category: str
    billed: Decimal
    currency: str
    start: Instant
    end: Instant
    list_cost: Decimal | None
    effective_cost: Decimal | None
    quantity: Decimal | None
    mode: str
    frequency: str
    provider: str
    publisher: str
    service_type: str
    line_id: str


class Derived(NamedTuple):
    """What transform adds to a valid row."""

    identity: bytes
    batch_id: int
    classification: str
    correction: bool
    row_no: int
    project: str
    service_name: str
    region_id: str
    billing_period_start: Instant | None
    billing_period_end: Instant | None


def line_values_postgres(c: Checked, r: tuple[str, ...], d: Derived) -> tuple[Any, ...]:
    """A line item's LINE_COLUMNS values (write.py) for COPY; ``r``: the row's read.CARRIED texts."""
    (_p, _t, _bs, _be, _sn, _ri, charge_class, description, pricing_category, unit, service_category, sku,
     region_name, resource_id, resource_name, resource_type, order_id) = r  # fmt: skip
    bps, bpe = d.billing_period_start, d.billing_period_end
    return (
        d.identity, d.batch_id, c.customer_id, c.partner_id, c.association_type,
        c.start[0], c.end[0], c.start[1], c.start[2],
        None if bps is None else bps[0], None if bpe is None else bpe[0],
        c.category, charge_class[:16], d.classification, description[:500], c.frequency[:32],
        pricing_category[:32],
        c.billed, c.list_cost, c.effective_cost, c.currency, c.quantity, unit[:64],
        c.provider[:100], c.publisher[:100], c.service_type, d.service_name, service_category[:100],
        sku[:200], d.region_id, region_name[:100], resource_id[:500], resource_name[:200],
        resource_type[:100], d.project, c.mode, order_id[:100], c.line_id[:200], d.correction, d.row_no,
    )  # fmt: skip


def line_values_sqlite(c: Checked, r: tuple[str, ...], d: Derived) -> tuple[Any, ...]:
    """As :func:`line_values_postgres`, with instants, days and amounts as the text SQLite stores
    (costs are mostly the billed cost's value: its text is reused, the canonical text of a value
    being one)."""
    (_p, _t, _bs, _be, _sn, _ri, charge_class, description, pricing_category, unit, service_category, sku,
     region_name, resource_id, resource_name, resource_type, order_id) = r  # fmt: skip
    bps, bpe = d.billing_period_start, d.billing_period_end
    billed = c.billed
    billed_text = canonical(billed)
    lc, ec, q = c.list_cost, c.effective_cost, c.quantity
    return (
        d.identity, d.batch_id, c.customer_id, c.partner_id, c.association_type,
        c.start[3], c.end[3], c.start[4], c.start[5],
        None if bps is None else bps[3], None if bpe is None else bpe[3],
        c.category, charge_class[:16], d.classification, description[:500], c.frequency[:32],
        pricing_category[:32],
        billed_text,
        None if lc is None else billed_text if lc == billed else canonical(lc),
        None if ec is None else billed_text if ec == billed else canonical(ec),
        c.currency, None if q is None else canonical(q), unit[:64],
        c.provider[:100], c.publisher[:100], c.service_type, d.service_name, service_category[:100],
        sku[:200], d.region_id, region_name[:100], resource_id[:500], resource_name[:200],
        resource_type[:100], d.project, c.mode, order_id[:100], c.line_id[:200], d.correction, d.row_no,
    )  # fmt: skip


# What the projections and the report take from a new row: its rollup key (projections.ROLLUP_KEY),
# billed cost and correction flag.
RowSums = tuple[tuple[Any, ...], Decimal, bool]


class Transformer:
    """Valid rows -> line-item values (LINE_COLUMNS) and their :data:`RowSums`."""

    def __init__(self, layout: Layout, batch_id: int, customers: Customers, pg: bool) -> None:
        self.identity = identity_function(layout)
        self.build = line_values_postgres if pg else line_values_sqlite
        self.batch_id = batch_id
        self.customers = customers
        self.projects: dict[str, str] = {}

    def project(self, explicit: str, tags: str) -> str:
        """The project column, else the project tag (tags repeat: parsed once each)."""
        if explicit:
            return explicit[:100]
        if "roject" not in tags:
            return ""
        hit = self.projects.get(tags)
        if hit is None:
            hit = project_from_tags(tags)
            if len(self.projects) < _CACHED_TAGS:
                self.projects[tags] = hit
        return hit

    def line(
        self, row_no: int, row: list[str], c: Checked, carried: tuple[str, ...], periods: tuple[Any, Any]
    ) -> tuple[tuple[Any, ...], RowSums]:
        cls = _classify(c.category, c.billed)
        service_name = carried[4][:200]
        region_id = carried[5][:64]
        project = self.project(carried[0], carried[1])
        correction = self.customers.is_correction(c.partner_id, c.start[2])
        identity = self.identity(row, c.line_id)
        derived = _new_tuple(  # Derived(...) without its Python-level __new__: once per row
            Derived,
            (
                identity,
                self.batch_id,
                cls,
                correction,
                row_no,
                project,
                service_name,
                region_id,
                periods[0],
                periods[1],
            ),
        )
        key = (c.start[1], c.customer_id, c.partner_id, c.association_type, service_name, c.service_type,
               region_id, project, c.mode, cls, c.currency)  # fmt: skip
        return self.build(c, carried, derived), (key, c.billed, correction)
