"""Associations never move recorded history: an association may not start at or before a charge
already in the ledger, nor in a month already billed. API, admin console, CLI and import."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction

from partnercenter.accounts.models import AuditEntry
from partnercenter.core import clock
from partnercenter.core.errors import ValidationFailed
from partnercenter.partners import services as partner_services
from partnercenter.partners.models import AccountManagerAssignment, Customer, CustomerAssociation
from partnercenter.usage import selectors as ledger
from partnercenter.usage import services as usage_services
from partnercenter.usage.models import (
    ClosedMonth,
    CustomerRunningTotal,
    CustomerTotalKey,
    DailyRollup,
    LedgerVersion,
    LineItem,
)
from tests.conftest import T0
from tests.test_api import bearer, call
from tests.test_usage_ingest import _plain, record

# 2026-03-04 23:59:59 and 2026-03-05 00:00:00 in Asia/Shanghai.
LAST_SECOND_OF_4TH = "2026-03-04T15:59:59+00:00"
MIDNIGHT_5TH = "2026-03-04T16:00:00+00:00"
START_5TH = dt.datetime(2026, 3, 4, 16, 0, tzinfo=dt.UTC)
STATE_MODELS = (
    Customer,
    CustomerAssociation,
    AccountManagerAssignment,
    LineItem,
    DailyRollup,
    CustomerTotalKey,
    CustomerRunningTotal,
    LedgerVersion,
    ClosedMonth,
    AuditEntry,
)
HEADER = "account_id,name,email,mobile,partner,association_type,valid_from\n"


def state() -> dict[str, list[tuple]]:
    """Every row of the tables an association could touch, directly or through derived totals."""
    out = {}
    for model in STATE_MODELS:
        fields = [f.attname for f in model._meta.concrete_fields]
        out[model.__name__] = sorted(
            (tuple(_plain(v) for v in row) for row in model.objects.values_list(*fields)), key=repr
        )
    return out


def ingest(*items: dict[str, str]) -> None:
    report = usage_services.ingest_records(list(items), source="t")
    assert report.accepted, report.errors


def partners_of_lines() -> dict[str, tuple[str, str]]:
    return {li.x_line_id: (li.partner.code, li.association_type) for li in LineItem.objects.select_related("partner")}


def move(customer: Customer, valid_from: dt.datetime, partner: str = "sp-b", kind: str = "reseller", org=None):
    return partner_services.associate_customer(
        customer=customer, partner=org.partners[partner], association_type=kind, valid_from=valid_from
    )


# --- API ------------------------------------------------------------------------------------


def test_api_refuses_a_back_dated_association_over_recorded_charges(org, client):
    ingest(
        record("early", "a1", "10", "2026-03-01T00:00:00+00:00"),
        record("at", "a1", "20", MIDNIGHT_5TH),
        record("later", "a1", "40", "2026-03-08T01:30:00+00:00"),  # 2026-03-08 09:30 in Shanghai
    )
    op = bearer(client, "op")
    before = state()
    with clock.frozen_at(T0):
        r = call(
            client,
            "post",
            "/customers/a1/associations",
            op,
            {"partner": "sp-b", "association_type": "reseller", "valid_from": "2026-03-05"},
        )
    assert r.status_code == 422
    assert r.json() == {
        "code": "valid_from_too_early",
        "message": "The association cannot start at 2026-03-05 00:00:00: it would change recorded history.",
        "details": {
            "valid_from": "customer 'a1' already has 2 recorded charge(s) from 2026-03-05 00:00:00 to "
            "2026-03-08 09:30:00 (Asia/Shanghai), which an association cannot move to another partner. "
            "Choose 2026-03-09 or later."
        },
    }
    assert state() == before
    # A change of association type alone moves history too.
    with clock.frozen_at(T0):
        r = call(
            client,
            "post",
            "/customers/a1/associations",
            op,
            {"partner": "sp-a", "association_type": "referral", "valid_from": "2026-03-08"},
        )
    assert r.status_code == 422
    assert r.json()["details"]["valid_from"].endswith("Choose 2026-03-09 or later.")
    assert state() == before

    with clock.frozen_at(T0):
        r = call(
            client,
            "post",
            "/customers/a1/associations",
            op,
            {"partner": "sp-b", "association_type": "reseller", "valid_from": "2026-03-09"},
        )
    assert r.status_code == 201
    assert r.json()["valid_from"] == "2026-03-08T16:00:00Z"
    assert partners_of_lines() == {
        "early": ("sp-a", "reseller"),
        "at": ("sp-a", "reseller"),
        "later": ("sp-a", "reseller"),
    }


def test_api_refuses_a_customer_registered_into_a_billed_month(org, client):
    ClosedMonth.objects.create(partner=org.partners["sp-a"], month=dt.date(2026, 2, 1), closed_at=T0)
    body = {
        "account_id": "n1",
        "name": "New",
        "partner": "sp-a",
        "association_type": "reseller",
        "valid_from": "2026-02-28",
    }
    op = bearer(client, "op")
    before = state()
    with clock.frozen_at(T0):
        r = call(client, "post", "/customers", op, body)
        assert r.status_code == 422
        assert r.json()["details"] == {
            "valid_from": "the month(s) 2026-02 for 'sp-a' are already billed. Choose 2026-03-01 or later."
        }
        assert state() == before
        assert call(client, "post", "/customers", op, dict(body, valid_from="2026-03-01")).status_code == 201


# --- the rule at its boundaries (billing time zone) -----------------------------------------


@pytest.mark.parametrize(
    "charge_start, refused",
    [(LAST_SECOND_OF_4TH, False), (MIDNIGHT_5TH, True)],
    ids=["charge-at-23:59:59-before", "charge-at-00:00:00-of-valid-from"],
)
def test_a_charge_at_exactly_valid_from_counts_one_just_before_does_not(org, charge_start, refused):
    ingest(record("x", "a1", "7", charge_start))
    before = state()
    with clock.frozen_at(T0):
        if refused:
            with pytest.raises(partner_services.HistoryRecorded) as exc:
                move(org.customers["a1"], START_5TH, org=org)
            assert exc.value.earliest == dt.date(2026, 3, 6)
            assert state() == before
        else:
            move(org.customers["a1"], START_5TH, org=org)
    assert partners_of_lines() == {"x": ("sp-a", "reseller")}
    current = CustomerAssociation.objects.get(customer=org.customers["a1"], valid_to__isnull=True)
    assert current.partner.code == ("sp-a" if refused else "sp-b")


def test_the_boundary_is_the_instant_not_the_day(org):
    ingest(record("x", "a1", "7", "2026-03-05T02:00:00+00:00"))  # 2026-03-05 10:00 in Shanghai
    ten = dt.datetime(2026, 3, 5, 2, 0, tzinfo=dt.UTC)
    with clock.frozen_at(T0):
        with pytest.raises(partner_services.HistoryRecorded):
            move(org.customers["a1"], ten, org=org)
        move(org.customers["a1"], ten + dt.timedelta(microseconds=1), org=org)
    assert partners_of_lines() == {"x": ("sp-a", "reseller")}


def test_a_back_dated_association_without_affected_charges_is_accepted(org):
    """Usage not loaded yet: the association goes back, and charges loaded later follow it."""
    ingest(record("old", "a1", "1", "2026-02-01T00:00:00+00:00"))  # recorded, but before valid_from
    with clock.frozen_at(T0):
        assoc = move(org.customers["a1"], START_5TH, org=org)
    assert (assoc.valid_from, assoc.partner.code) == (START_5TH, "sp-b")
    ingest(
        record("before", "a1", "3", LAST_SECOND_OF_4TH),
        record("at", "a1", "5", MIDNIGHT_5TH),
        record("after", "a1", "11", "2026-03-09T00:00:00+00:00"),
    )
    assert partners_of_lines() == {
        "old": ("sp-a", "reseller"),
        "before": ("sp-a", "reseller"),
        "at": ("sp-b", "reseller"),
        "after": ("sp-b", "reseller"),
    }
    assert sorted(DailyRollup.objects.values_list("partner__code", "day", "amount")) == [
        ("sp-a", dt.date(2026, 2, 1), 1),
        ("sp-a", dt.date(2026, 3, 4), 3),
        ("sp-b", dt.date(2026, 3, 5), 5),
        ("sp-b", dt.date(2026, 3, 9), 11),
    ]


# --- billed months --------------------------------------------------------------------------


@pytest.mark.parametrize("billed_partner", ["sp-a", "sp-b"], ids=["losing-partner", "gaining-partner"])
def test_an_association_may_not_start_in_a_billed_month(org, billed_partner):
    ClosedMonth.objects.create(partner=org.partners[billed_partner], month=dt.date(2026, 2, 1), closed_at=T0)
    before = state()
    last_second_of_february = dt.datetime(2026, 2, 28, 15, 59, 59, tzinfo=dt.UTC)
    with clock.frozen_at(T0):
        with pytest.raises(partner_services.HistoryRecorded) as exc:
            move(org.customers["a1"], last_second_of_february, org=org)
        assert exc.value.details == {
            "valid_from": f"the month(s) 2026-02 for {billed_partner!r} are already billed. Choose 2026-03-01 or later."
        }
        assert state() == before
        move(org.customers["a1"], dt.datetime(2026, 2, 28, 16, 0, tzinfo=dt.UTC), org=org)  # 03-01 00:00
    assert ledger.is_month_closed(org.partners[billed_partner].pk, dt.date(2026, 2, 14))
    assert not ledger.is_month_closed(org.partners[billed_partner].pk, dt.date(2026, 3, 1))


def test_charges_and_a_billed_month_together_name_the_later_earliest_day(org):
    ClosedMonth.objects.create(partner=org.partners["sp-b"], month=dt.date(2026, 2, 1), closed_at=T0)
    ingest(record("x", "a1", "7", "2026-03-02T04:00:00+00:00"))  # 2026-03-02 12:00 in Shanghai
    with clock.frozen_at(T0), pytest.raises(partner_services.HistoryRecorded) as exc:
        move(org.customers["a1"], dt.datetime(2026, 2, 9, 16, 0, tzinfo=dt.UTC), org=org)
    assert exc.value.earliest == dt.date(2026, 3, 3)
    assert exc.value.details["valid_from"] == (
        "customer 'a1' already has 1 recorded charge(s) from 2026-03-02 12:00:00 to 2026-03-02 12:00:00 "
        "(Asia/Shanghai), which an association cannot move to another partner; the month(s) 2026-02 for "
        "'sp-b' are already billed. Choose 2026-03-03 or later."
    )


# --- console (admin), CLI, import -----------------------------------------------------------

ADD = "/admin/partners/customerassociation/add/"


def admin_form(org, day: str, partner: str = "sp-b") -> dict[str, str]:
    return {
        "customer": str(org.customers["a1"].pk),
        "partner": str(org.partners[partner].pk),
        "association_type": "reseller",
        "valid_from_day": day,
    }


def test_console_refuses_a_back_dated_association_as_a_form_error(org, client):
    ingest(record("x", "a1", "7", MIDNIGHT_5TH))
    client.force_login(org.users["op"])
    before = state()
    with clock.frozen_at(T0):
        r = client.post(ADD, admin_form(org, "2026-03-05"))
    assert r.status_code == 200
    assert r.context["adminform"].form.errors == {
        "valid_from_day": [
            "The association cannot start on 2026-03-05: the customer's charges from then on are already "
            "recorded, or the month is already billed. Choose 2026-03-06 or later."
        ]
    }
    assert state() == before

    with clock.frozen_at(T0):
        r = client.post(ADD, admin_form(org, "2026-03-06"))
    assert r.status_code == 302
    rows = CustomerAssociation.objects.filter(customer=org.customers["a1"]).order_by("valid_from")
    sixth = dt.datetime(2026, 3, 5, 16, 0, tzinfo=dt.UTC)
    assert [(a.partner.code, a.valid_from, a.valid_to) for a in rows] == [
        ("sp-a", T0 - dt.timedelta(days=60), sixth),
        ("sp-b", sixth, None),
    ]
    assert partners_of_lines() == {"x": ("sp-a", "reseller")}


def test_console_cannot_edit_or_delete_association_history(org, client):
    ingest(record("x", "a1", "7", MIDNIGHT_5TH))
    assoc = CustomerAssociation.objects.get(customer=org.customers["a1"])
    client.force_login(org.users["op"])
    before = state()
    change = f"/admin/partners/customerassociation/{assoc.pk}/change/"
    r = client.post(
        change,
        admin_form(org, "2026-03-05", partner="sp-a") | {"valid_from_0": "2026-03-05", "valid_from_1": "00:00:00"},
    )
    assert r.status_code == 403
    r = client.post(f"/admin/partners/customerassociation/{assoc.pk}/delete/", {"post": "yes"})
    assert r.status_code == 403
    assert state() == before
    assert client.get(change).status_code == 200  # still viewable


def test_cli_refuses_a_back_dated_association(org):
    ingest(record("x", "a1", "7", MIDNIGHT_5TH))
    before = state()
    with clock.frozen_at(T0), pytest.raises(CommandError) as exc:
        call_command("customers", "associate", "a1", "--partner", "sp-b", "--type", "reseller", "--from", "2026-03-05")
    assert str(exc.value) == (
        "The association cannot start at 2026-03-05 00:00:00: it would change recorded history.\n"
        "  valid_from: customer 'a1' already has 1 recorded charge(s) from 2026-03-05 00:00:00 to "
        "2026-03-05 00:00:00 (Asia/Shanghai), which an association cannot move to another partner. "
        "Choose 2026-03-06 or later."
    )
    assert state() == before


def test_import_refuses_rows_starting_in_a_billed_month(org, tmp_path):
    ClosedMonth.objects.create(partner=org.partners["sp-a"], month=dt.date(2026, 2, 1), closed_at=T0)
    f = tmp_path / "c.csv"
    f.write_text(
        HEADER
        + "n1,Fine,,,sp-b,reseller,2026-02-01\n"  # sp-b's February is open
        + "n2,Billed,,,sp-a,reseller,2026-02-28\n"
        + "n3,Bad Email,x,,sp-a,reseller,2026-03-01\n"
        + "n4,Open,,,sp-a,referral,2026-03-01\n"
    )
    before = state()
    with clock.frozen_at(T0), pytest.raises(CommandError) as exc:
        call_command("customers", "import", str(f))
    assert str(exc.value).splitlines() == [
        "The file was rejected: 2 problem(s); nothing was imported.",
        "  row 3: valid_from: the month(s) 2026-02 for 'sp-a' are already billed. Choose 2026-03-01 or later.",
        "  row 4: email: 'x' is not an email address",
    ]
    assert state() == before
    f.write_text(HEADER + "n1,Fine,,,sp-b,reseller,2026-02-01\n" + "n4,Open,,,sp-a,referral,2026-03-01\n")
    with clock.frozen_at(T0):
        call_command("customers", "import", str(f))
    assert Customer.objects.filter(account_id__in=["n1", "n4"]).count() == 2


def test_import_service_names_the_row(org):
    ClosedMonth.objects.create(partner=org.partners["sp-a"], month=dt.date(2026, 3, 1), closed_at=T0)
    with clock.frozen_at(T0), pytest.raises(ValidationFailed) as exc:
        partner_services.import_customers(HEADER + "n1,One,,,sp-a,reseller,2026-03-31\n")
    assert exc.value.details == [
        "row 2: valid_from: the month(s) 2026-03 for 'sp-a' are already billed. Choose 2026-04-01 or later."
    ]
    assert not Customer.objects.filter(account_id="n1").exists()


# --- concurrency ----------------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite: BEGIN IMMEDIATE serialises all writers")
@pytest.mark.django_db(transaction=True)
def test_the_check_holds_the_ingestion_lock_until_commit(org):
    """While an association is being checked and written, no ingestion batch can start: it waits
    for the same lock, and then reads the new association."""
    from partnercenter.usage.ingest import _ADVISORY_LOCK_KEY

    got: list[bool] = []

    def try_ingestion_lock() -> None:
        try:
            with connections["default"].cursor() as c:
                c.execute("SELECT pg_try_advisory_lock(%s)", [_ADVISORY_LOCK_KEY])
                got.append(c.fetchone()[0])
                c.execute("SELECT pg_advisory_unlock_all()")
        finally:
            connections["default"].close()

    with transaction.atomic():
        with clock.frozen_at(T0):
            move(org.customers["a1"], START_5TH, org=org)
        other = threading.Thread(target=try_ingestion_lock)
        other.start()
        other.join()
    after = threading.Thread(target=try_ingestion_lock)
    after.start()
    after.join()
    assert got == [False, True]
    assert connection.vendor == "postgresql"
