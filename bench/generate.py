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


def write_csv(path: Path, rows: int, customer_count: int) -> None:
    """Write ``rows`` line items for ``customer_count`` customers to ``path`` (streaming)."""
    rng = random.Random(SEED)
    accounts = customers(customer_count)
    # Per customer: a home region, a project, a couple of favourite services.
    profile = []
    for account, _name, _p in accounts:
        region = rng.randrange(len(REGIONS))
        favourites = rng.choices(range(len(SERVICES)), weights=_SERVICE_WEIGHTS, k=3)
        project = f"proj-{rng.randrange(1, 40):02d}" if rng.random() < 0.6 else ""
        profile.append((account, region, favourites, project))
    times = [(_ts(h), _ts(h + 1)) for h in range(HOURS + 1)]
    bp_start, bp_end = _ts(0), _ts(HOURS)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        random_ = rng.random

        def randrange(a: int, b: int | None = None) -> int:
            # int(random() * n) is uniform enough for synthetic data and far cheaper than randrange.
            if b is None:
                return int(random_() * a)
            return a + int(random_() * (b - a))

        details_cache: dict[tuple[str, str], str] = {}
        tags_cache: dict[tuple[int, int, str], str] = {}
        buf: list[list[str]] = []
        for i in range(rows):
            account, region_i, favourites, project = profile[randrange(customer_count)]
            hour = i % HOURS
            slot = i // HOURS  # (slot, hour) is unique per row: so is every row's identity
            start, end = times[hour]
            svc_i = favourites[randrange(3)] if random_() < 0.85 else randrange(len(SERVICES))
            service, category, subcat, rtype, unit, meter, price, _w = SERVICES[svc_i]
            rslug = rtype.lower().replace(" ", "-")
            region_id, region_name = REGIONS[region_i] if random_() < 0.9 else REGIONS[randrange(len(REGIONS))]
            r = random_()
            # quantity with 4 places, unit price with 10: cost carries up to 14-15 places
            qty = randrange(1, 5_000_000)
            list_cost_units = qty * price  # scale 14
            commitment = [""] * 9
            if r < 0.05:  # tax on the month's charges
                charge_cat, frequency, pricing_cat = "Tax", "One-Time", ""
                billed = _decimal_text(randrange(1, 10**9), 6)
                effective = list_ = contracted = billed
                qty_text = unit_text = list_price = contracted_price = consumed = consumed_unit = ""
                description = f"Tax for {service}"
                sku = sku_price = details = ""
                region_id = region_name = zone = ""
            else:
                if r < 0.23:
                    charge_cat, frequency, pricing_cat = "Purchase", "Recurring", "Standard"
                    description = f"{service} commitment purchase (no upfront)"
                    commitment = [
                        f"arn:aws:ec2:{region_id}::reservation/{account}-{svc_i}",
                        f"{service}-1yr-NoUpfront",
                        "Usage",
                        "Reserved Instance",
                        "",
                        "",
                        "",
                        "",
                        "",
                    ]
                else:
                    charge_cat, frequency = "Usage", "Usage-Based"
                    pricing_cat = "Committed" if random_() < 0.3 else "Standard"
                    description = f"{service} {meter.lower()} usage"
                discount = 100 - randrange(0, 30)  # contracted = list × discount%
                contracted_units = list_cost_units * discount  # scale 16 → shown with 15 places below
                scale = (2, 6, 10, 14, 15)[randrange(5)]
                billed_units = (
                    list_cost_units // 10 ** (14 - scale) if scale < 14 else list_cost_units * 10 ** (scale - 14)
                )
                if r > 0.99:  # a refund: a negative usage row
                    billed_units = -billed_units
                    description = f"Refund: {description}"
                billed = _decimal_text(billed_units, scale)
                effective = billed
                list_ = _decimal_text(list_cost_units, 14)
                contracted = _decimal_text(contracted_units // 10, 15)
                qty_text = _decimal_text(qty, 4)
                unit_text = unit
                list_price = _decimal_text(price, 10)
                contracted_price = _decimal_text(price * discount, 12)
                consumed, consumed_unit = qty_text, unit
                sku = f"SKU-{service.lower()}-{region_id}-{meter.lower()}"
                sku_price = f"SPRICE-{svc_i:02d}{region_i:02d}{discount:03d}"
                details = details_cache.get((meter, region_id)) or details_cache.setdefault(
                    (meter, region_id), json.dumps({"x_Meter": meter, "x_Region": region_id}, separators=(",", ":"))
                )
                zone = f"{region_id}{'abc'[slot % 3]}"
            tag_key = (slot % 4, slot % 97, project)
            tags = tags_cache.get(tag_key)
            if tags is None:
                t = {"Environment": "prod" if slot % 4 else "staging", "CostCenter": f"cc-{1000 + slot % 97}"}
                if project:
                    t["Project"] = project
                tags = tags_cache[tag_key] = json.dumps(t, separators=(",", ":"))
            buf.append(
                [
                    "AWS", "AWS", "AWS", "INV-2026-05-0001", "100000000001", "Bench Master Payer", "Payer Account",
                    account, f"acct-{account}", "Linked Account", bp_start, bp_end, start, end, charge_cat,
                    "", description, frequency, billed, effective, list_, contracted, list_price, contracted_price,
                    pricing_cat, qty_text, unit_text, "USD", contracted_price, effective, list_price, "USD",
                    consumed, consumed_unit, service, category, subcat, sku, meter, sku_price, details,
                    f"arn:aws:{service.lower()}:{region_id}:{account}:{rslug}/r-{slot:07x}", f"{rslug}-{slot:07x}", rtype, region_id, region_name, zone,
                    *commitment, tags,
                ]
            )  # fmt: skip
            if len(buf) >= 10_000:
                w.writerows(buf)
                buf.clear()
        w.writerows(buf)
    tmp.replace(path)
