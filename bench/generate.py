"""Synthetic FOCUS 1.2 usage for the benchmark: partners, customers and an N-row CSV.

The CSV has the same 57 columns as the FOCUS 1.2 sample in the fixtures (provider-style, the
way a cloud's cost-and-usage export looks): rows spread over one month, hourly charge periods,
a mix of Usage / Purchase / Tax with a few negative (refund) rows, amounts with up to 15 decimal
places, several services and regions. Every row is distinct (its ResourceId and hour differ), so
an ingestion of the file stores all N rows. Deterministic for a given N and seed; written
streaming, so generating 5,000,000 rows needs no more memory than generating 10.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

COLUMNS = [
    "ProviderName", "PublisherName", "InvoiceIssuerName", "InvoiceId", "BillingAccountId",
    "BillingAccountName", "BillingAccountType", "SubAccountId", "SubAccountName", "SubAccountType",
    "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory",
    "ChargeClass", "ChargeDescription", "ChargeFrequency", "BilledCost", "EffectiveCost", "ListCost",
    "ContractedCost", "ListUnitPrice", "ContractedUnitPrice", "PricingCategory", "PricingQuantity",
    "PricingUnit", "PricingCurrency", "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice", "BillingCurrency", "ConsumedQuantity", "ConsumedUnit", "ServiceName",
    "ServiceCategory", "ServiceSubcategory", "SkuId", "SkuMeter", "SkuPriceId", "SkuPriceDetails",
    "ResourceId", "ResourceName", "ResourceType", "RegionId", "RegionName", "AvailabilityZone",
    "CommitmentDiscountId", "CommitmentDiscountName", "CommitmentDiscountCategory", "CommitmentDiscountType",
    "CommitmentDiscountStatus", "CommitmentDiscountQuantity", "CommitmentDiscountUnit", "CapacityReservationId",
    "CapacityReservationStatus", "Tags",
]  # fmt: skip
assert len(COLUMNS) == 57

GENERATOR_VERSION = 1
SEED = 20260501
MONTH_START = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
HOURS = 31 * 24
PARTNERS = [
    # code, name, kind, association type of its customers
    ("bench-sp-east", "Bench Solutions East", "solution_provider", "reseller"),
    ("bench-sp-west", "Bench Solutions West", "solution_provider", "reseller"),
    ("bench-sp-north", "Bench Solutions North", "solution_provider", "reseller"),
    ("bench-sp-south", "Bench Solutions South", "solution_provider", "referral"),
    ("bench-referral", "Bench Referrals", "referral", "referral"),
]
REGIONS = [
    ("us-east-1", "US East (N. Virginia)"),
    ("us-west-2", "US West (Oregon)"),
    ("eu-west-1", "Europe (Ireland)"),
    ("ap-southeast-1", "Asia Pacific (Singapore)"),
    ("ap-east-1", "Asia Pacific (Hong Kong)"),
]
# service, category, subcategory, resource type, unit, sku meter, unit price (10 places), weight
SERVICES = [
    ("AmazonEC2", "Compute", "Virtual Machines", "Instance", "Hours", "Compute", 960000000, 40),
    ("AmazonS3", "Storage", "Object Storage", "Bucket", "GB-Mo", "Storage", 230000000, 12),
    ("AmazonRDS", "Databases", "Relational Databases", "DB Instance", "Hours", "Database", 1710000000, 10),
    ("AWSLambda", "Compute", "Serverless Compute", "Function", "Requests", "Requests", 2000, 8),
    ("AmazonDynamoDB", "Databases", "NoSQL Databases", "Table", "ReadRequestUnits", "Reads", 2500, 6),
    ("AmazonCloudWatch", "Management and Governance", "Observability", "Log Group", "GB", "Logs", 5000000000, 6),
    ("AmazonVPC", "Networking", "Network Connectivity", "NAT Gateway", "Hours", "NatGateway", 450000000, 5),
    ("AWSGlue", "Analytics", "Data Processing", "Job", "DPU-Hour", "ETL", 4400000000, 4),
]
_SERVICE_WEIGHTS = [s[-1] for s in SERVICES]


def customers(count: int) -> list[tuple[str, str, int]]:
    """(account id, name, partner index) of every bench customer."""
    return [(f"{300000000000 + n}", f"Bench Customer {n}", n % len(PARTNERS)) for n in range(count)]


def _ts(hour: int) -> str:
    return (MONTH_START + dt.timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _decimal_text(units: int, scale: int) -> str:
    """``units`` × 10^-scale as fixed-point text (exact: built from integers, never a float)."""
    sign = "-" if units < 0 else ""
    units = abs(units)
    if scale == 0:
        return f"{sign}{units}"
    whole, frac = divmod(units, 10**scale)
    return f"{sign}{whole}.{frac:0{scale}d}"


class _Rows:
    """The generated rows, one at a time, from one seeded random stream (the same file for the
    same parameters: every draw is made in the same order)."""

    def __init__(self, customer_count: int) -> None:
        self.rng = rng = random.Random(SEED)
        self.customer_count = customer_count
        # Per customer: a home region, a project, a couple of favourite services.
        self.profile = []
        for account, _name, _p in customers(customer_count):
            region = rng.randrange(len(REGIONS))
            favourites = rng.choices(range(len(SERVICES)), weights=_SERVICE_WEIGHTS, k=3)
            project = f"proj-{rng.randrange(1, 40):02d}" if rng.random() < 0.6 else ""
            self.profile.append((account, region, favourites, project))
        self.times = [(_ts(h), _ts(h + 1)) for h in range(HOURS + 1)]
        self.random = rng.random
        self.details_cache: dict[tuple[str, str], str] = {}
        self.tags_cache: dict[tuple[int, int, str], str] = {}

    def randrange(self, a: int, b: int | None = None) -> int:
        # int(random() * n) is uniform enough for synthetic data and far cheaper than randrange.
        if b is None:
            return int(self.random() * a)
        return a + int(self.random() * (b - a))

    def row(self, i: int) -> list[str]:
        randrange, random_ = self.randrange, self.random
        account, region_i, favourites, project = self.profile[randrange(self.customer_count)]
        slot = i // HOURS  # (slot, hour) is unique per row: so is every row's identity
        start, end = self.times[i % HOURS]
        svc_i = favourites[randrange(3)] if random_() < 0.85 else randrange(len(SERVICES))
        service = SERVICES[svc_i]
        region = REGIONS[region_i] if random_() < 0.9 else REGIONS[randrange(len(REGIONS))]
        r = random_()
        # quantity with 4 places, unit price with 10: cost carries up to 14-15 places
        qty = randrange(1, 5_000_000)
        if r < 0.05:  # tax on the month's charges
            charge = self._tax(service[0])
        else:
            charge = self._priced(r, account, service, svc_i, region, region_i, qty, slot)
        rslug = service[3].lower().replace(" ", "-")
        (charge_cat, frequency, pricing_cat, description, billed, effective, list_, contracted, list_price,
         contracted_price, qty_text, unit_text, consumed, consumed_unit, sku, sku_price, details, region_id,
         region_name, zone, commitment) = charge  # fmt: skip
        return [
            "AWS", "AWS", "AWS", "INV-2026-05-0001", "100000000001", "Bench Master Payer", "Payer Account",
            account, f"acct-{account}", "Linked Account", _BILLING_PERIOD[0], _BILLING_PERIOD[1], start, end, charge_cat,
            "", description, frequency, billed, effective, list_, contracted, list_price, contracted_price,
            pricing_cat, qty_text, unit_text, "USD", contracted_price, effective, list_price, "USD",
            consumed, consumed_unit, service[0], service[1], service[2], sku, service[5], sku_price, details,
            f"arn:aws:{service[0].lower()}:{region_id}:{account}:{rslug}/r-{slot:07x}", f"{rslug}-{slot:07x}",
            service[3], region_id, region_name, zone, *commitment, self._tags(slot, project),
        ]  # fmt: skip

    def _tax(self, service: str) -> tuple[Any, ...]:
        billed = _decimal_text(self.randrange(1, 10**9), 6)
        return ("Tax", "One-Time", "", f"Tax for {service}", billed, billed, billed, billed, "", "", "", "", "", "",
                "", "", "", "", "", "", [""] * 9)  # fmt: skip

    def _priced(
        self, r: float, account: str, service: tuple[Any, ...], svc_i: int, region: tuple[str, str], region_i: int,
        qty: int, slot: int,
    ) -> tuple[Any, ...]:  # fmt: skip
        """A purchase or usage row's columns (a refund once in a hundred)."""
        name, _category, _subcat, _rtype, unit, meter, price, _w = service
        region_id, region_name = region
        list_cost_units = qty * price  # scale 14
        commitment = [""] * 9
        if r < 0.23:
            charge_cat, frequency, pricing_cat = "Purchase", "Recurring", "Standard"
            description = f"{name} commitment purchase (no upfront)"
            commitment = [f"arn:aws:ec2:{region_id}::reservation/{account}-{svc_i}", f"{name}-1yr-NoUpfront",
                          "Usage", "Reserved Instance", "", "", "", "", ""]  # fmt: skip
        else:
            charge_cat, frequency = "Usage", "Usage-Based"
            pricing_cat = "Committed" if self.random() < 0.3 else "Standard"
            description = f"{name} {meter.lower()} usage"
        discount = 100 - self.randrange(0, 30)  # contracted = list × discount%
        contracted_units = list_cost_units * discount  # scale 16 → shown with 15 places below
        scale = (2, 6, 10, 14, 15)[self.randrange(5)]
        billed_units = list_cost_units // 10 ** (14 - scale) if scale < 14 else list_cost_units * 10 ** (scale - 14)
        if r > 0.99:  # a refund: a negative usage row
            billed_units = -billed_units
            description = f"Refund: {description}"
        billed = _decimal_text(billed_units, scale)
        qty_text = _decimal_text(qty, 4)
        details = self.details_cache.get((meter, region_id)) or self.details_cache.setdefault(
            (meter, region_id), json.dumps({"x_Meter": meter, "x_Region": region_id}, separators=(",", ":"))
        )
        return (charge_cat, frequency, pricing_cat, description, billed, billed, _decimal_text(list_cost_units, 14),
                _decimal_text(contracted_units // 10, 15), _decimal_text(price, 10), _decimal_text(price * discount, 12),
                qty_text, unit, qty_text, unit, f"SKU-{name.lower()}-{region_id}-{meter.lower()}",
                f"SPRICE-{svc_i:02d}{region_i:02d}{discount:03d}", details, region_id, region_name,
                f"{region_id}{'abc'[slot % 3]}", commitment)  # fmt: skip

    def _tags(self, slot: int, project: str) -> str:
        tag_key = (slot % 4, slot % 97, project)
        tags = self.tags_cache.get(tag_key)
        if tags is None:
            t = {"Environment": "prod" if slot % 4 else "staging", "CostCenter": f"cc-{1000 + slot % 97}"}
            if project:
                t["Project"] = project
            tags = self.tags_cache[tag_key] = json.dumps(t, separators=(",", ":"))
        return tags


_BILLING_PERIOD = (_ts(0), _ts(HOURS))


def write_csv(path: Path, rows: int, customer_count: int) -> None:
    """Write ``rows`` line items for ``customer_count`` customers to ``path`` (streaming)."""
    source = _Rows(customer_count)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        buf: list[list[str]] = []
        for i in range(rows):
            buf.append(source.row(i))
            if len(buf) >= 10_000:
                w.writerows(buf)
                buf.clear()
        w.writerows(buf)
    tmp.replace(path)
