"""Operators define incentive programs in the admin with their rates and enrolments, checked as
the program service checks them; generated programs and incentives are read-only there."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.urls import reverse

from partnercenter.accounts.models import AuditEntry
from partnercenter.core import clock
from partnercenter.incentives import services
from partnercenter.incentives.models import Enrolment, Program, Rate
from partnercenter.incentives.programs import RateSpec
from tests.incentive_ledger import SHANGHAI, ingest, on, program, rec


def _form(org, **changes: str) -> dict[str, str]:
    data = {
        "code": "spring",
        "name": "Spring Push",
        "description": "3 % of eligible cloud expenditure, 5 % from 10,000",
        "period": "monthly",
        "currency": "USD",
        "association_type": "reseller",
        "service_types": '["cloud"]',
        "product_types": "[]",
        "partner_kinds": '["solution_provider"]',
        "confirmation_days": "10",
        "valid_from": "2026-04-01",
        "valid_to": "",
        "rates-TOTAL_FORMS": "2",
        "rates-INITIAL_FORMS": "0",
        "rates-MIN_NUM_FORMS": "0",
        "rates-MAX_NUM_FORMS": "1000",
        "rates-0-product_type": "",
        "rates-0-min_base": "0",
        "rates-0-rate": "0.03",
        "rates-1-product_type": "",
        "rates-1-min_base": "10000",
        "rates-1-rate": "0.05",
        "enrolments-TOTAL_FORMS": "1",
        "enrolments-INITIAL_FORMS": "0",
        "enrolments-MIN_NUM_FORMS": "0",
        "enrolments-MAX_NUM_FORMS": "1000",
        "enrolments-0-partner": str(org.partners["sp-a"].pk),
        "enrolments-0-joined_at_0": "2026-04-01",
        "enrolments-0-joined_at_1": "00:00:00",
        "enrolments-0-left_at_0": "",
        "enrolments-0-left_at_1": "",
    }
    data.update(changes)
    return data


def test_an_operator_defines_a_program_with_rates_and_enrolments(client, org):
    client.force_login(org.users["op"])
    with clock.frozen_at(on(20)):
        r = client.post(reverse("admin:incentives_program_add"), _form(org))
    assert r.status_code == 302, r.content.decode()[:2000]
    p = Program.objects.get(code="spring")
    assert (p.created_at, p.created_by, p.service_types) == (on(20), org.users["op"], ["cloud"])
    assert list(Rate.objects.filter(program=p).values_list("min_base", "rate")) == [
        (Decimal(0), Decimal("0.03")),
        (Decimal(10000), Decimal("0.05")),
    ]
    assert list(Enrolment.objects.filter(program=p).values_list("partner__code", flat=True)) == ["sp-a"]
    assert AuditEntry.objects.get(action="incentives.create_program").actor == org.users["op"]


def test_a_bad_program_in_the_admin_says_why_and_writes_nothing(client, org):
    client.force_login(org.users["op"])
    bad = _form(org, valid_from="2026-04-02", **{"rates-0-rate": "3", "rates-1-product_type": "Storage"})
    r = client.post(reverse("admin:incentives_program_add"), bad)
    assert r.status_code == 200
    text = r.content.decode()
    assert "must be the first day of a monthly period" in text
    assert not Program.objects.exists() and not Rate.objects.exists()
    r = client.post(reverse("admin:incentives_program_add"), _form(org, **{"rates-0-rate": "3"}))
    assert "a rate is a fraction greater than 0 and at most 1" in r.content.decode()
    assert not Program.objects.exists()


def test_a_generated_program_is_read_only_but_partners_can_still_join(client, org):
    p = program("cloud", [RateSpec("0.1")])
    ingest([rec("M1", "a1", "100", on(10), order="O1")], on(2, month=4))
    services.catch_up(dt.datetime(2026, 4, 5, tzinfo=SHANGHAI))
    client.force_login(org.users["op"])
    page = client.get(reverse("admin:incentives_program_change", args=[p.pk])).content.decode()
    assert 'name="code"' not in page and 'name="rates-0-rate"' not in page
    assert 'name="enrolments-TOTAL_FORMS"' in page
    number = p.incentives.get().pk
    assert client.get(reverse("admin:incentives_incentive_change", args=[number])).status_code == 200
    assert client.get(reverse("admin:incentives_incentive_delete", args=[number])).status_code == 403


def test_partners_do_not_reach_the_program_admin(client, org):
    client.force_login(org.users["sp-a-admin"])
    r = client.get(reverse("admin:incentives_program_changelist"))
    assert r.status_code == 302 and "/admin/login/" in r["Location"]
