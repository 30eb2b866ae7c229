"""Lead dispatch (O2): import from the operator, dispatch and recall by the partner's admin or an
operator holding the menu, status by the assignee; batches all or nothing; idempotency; history."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from partnercenter.core import clock
from partnercenter.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from partnercenter.leads import selectors as sel
from partnercenter.leads import services as svc
from partnercenter.leads.models import Lead, LeadEvent
from tests.conftest import T0
from tests.lead_fixtures import leads, row, snapshot  # noqa: F401

LATER = T0 + dt.timedelta(hours=2)


def ids(leads, *companies):  # noqa: F811
    return [leads[c].pk for c in companies]


def test_import_numbers_and_history(leads):  # noqa: F811
    a = leads["Acme Trading"]
    assert a.number == f"LEAD-{a.pk:06d}"
    assert (a.partner.code, a.status, a.assignee_id, a.created_at, a.created_by.username) == (
        "sp-a",
        "new",
        None,
        T0,
        "op",
    )
    assert list(a.events.values_list("kind", "at", "to_status")) == [("created", T0, "new")]


def test_import_is_all_or_nothing_with_row_and_column(org):
    bad = [row("sp-a", "Good Co"), row("nope", "", phone="abc", email="")]
    with pytest.raises(ValidationFailed) as e:
        svc.create_leads(actor=org.users["op"], rows=bad)
    assert e.value.code == "invalid_leads"
    assert [(p["row"], p["column"], p["why"]) for p in e.value.details] == [
        (2, "company", "required"),
        (2, "partner", "no partner with code nope"),
        (2, "phone", "not a phone number"),
    ]
    assert Lead.objects.count() == 0


def test_only_the_platform_operator_imports(org):
    with pytest.raises(Forbidden):
        svc.create_leads(actor=org.users["sp-a-admin"], rows=[row("sp-a", "X")])
    assert Lead.objects.count() == 0


def test_import_idempotency(org):
    op = org.users["op"]
    first = svc.create_leads(actor=op, rows=[row("sp-a", "X")], idempotency_key="k1")
    again = svc.create_leads(actor=op, rows=[row("sp-a", "X")], idempotency_key="k1")
    assert [x.pk for x in again] == [x.pk for x in first]
    with pytest.raises(Conflict) as e:
        svc.create_leads(actor=op, rows=[row("sp-a", "Y")], idempotency_key="k1")
    assert e.value.code == "idempotency_key_reused"
    assert Lead.objects.count() == 1


def test_cli_import_leads(org, tmp_path: Path):
    good = tmp_path / "leads.csv"
    good.write_text(
        "partner,company,contact_name,phone,email,source,product_interest\n"
        "sp-a,Acme,张三,13900000001,,Fair,ECS\n"
        "sp-b,Bolt,Li Si,,li@bolt.example,Fair,OBS\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    call_command("import_leads", str(good), stdout=out)
    made = list(Lead.objects.order_by("pk"))
    assert out.getvalue().strip() == f"Imported 2 lead(s): {made[0].number} … {made[1].number}"
    assert [(x.partner.code, x.company, x.contact_name, x.email) for x in made] == [
        ("sp-a", "Acme", "张三", ""),
        ("sp-b", "Bolt", "Li Si", "li@bolt.example"),
    ]
    assert made[0].created_by is None


def test_cli_import_refuses_the_whole_file(org, tmp_path: Path):
    bad = tmp_path / "bad.csv"
    bad.write_text("partner,company,contact_name,phone\nsp-a,Acme,张三,139\nsp-a,,李四,13900000002\n", encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_leads", str(bad), stderr=err)
    assert err.getvalue().splitlines() == [
        f"Rejected {bad}: 2 problem(s) in the leads; nothing was imported.",
        "  row 2, column phone: not a phone number",
        "  row 3, column company: required",
    ]
    assert Lead.objects.count() == 0


def test_cli_alias_is_registered():
    from partnercenter.cli import ALIASES

    assert ALIASES["import-leads"] == ["import_leads"]


@pytest.mark.parametrize("who", ["sp-a-admin", "sp-a-operator", "op"])
def test_dispatchers_batch_dispatch_and_recall(org, leads, who):  # noqa: F811
    actor, am = org.users[who], org.users["sp-a-account_manager"]
    with clock.frozen_at(LATER):
        done = svc.dispatch(actor=actor, lead_ids=ids(leads, "Acme Trading", "Cedar Logistics"), assignee=am.username)
    assert [x.assignee_id for x in done] == [am.pk, am.pk]
    assert set(sel.leads_for(am).values_list("company", flat=True)) == {"Acme Trading", "Cedar Logistics"}
    with clock.frozen_at(LATER + dt.timedelta(minutes=5)):
        svc.recall(actor=actor, lead_ids=ids(leads, "Cedar Logistics"), note="wrong region")
    assert list(sel.leads_for(am).values_list("company", flat=True)) == ["Acme Trading"]
    cedar = leads["Cedar Logistics"]
    assert list(cedar.events.values_list("kind", "at", "actor__username", "assignee__username", "note")) == [
        ("created", T0, "op", None, ""),
        ("dispatched", LATER, who, am.username, ""),
        ("recalled", LATER + dt.timedelta(minutes=5), who, am.username, "wrong region"),
    ]


@pytest.mark.parametrize("who", ["sp-a-account_manager", "sp-a-finance", "sp-b-admin"])
def test_others_may_not_dispatch(org, leads, who):  # noqa: F811
    before = snapshot()
    with pytest.raises((Forbidden, NotFound)):
        svc.dispatch(actor=org.users[who], lead_ids=ids(leads, "Acme Trading"), assignee="sp-a-account_manager")
    with pytest.raises((Forbidden, NotFound)):
        svc.recall(actor=org.users[who], lead_ids=ids(leads, "Acme Trading"))
    assert snapshot() == before


def test_operator_without_the_menu_may_not_dispatch(org, leads):  # noqa: F811
    from partnercenter.accounts import services as account_services

    user = org.users["sp-a-operator"]
    account_services.set_menus(actor=org.users["sp-a-admin"], user=user, menu_codes=["customer_management"])
    with pytest.raises(Forbidden) as e:
        svc.dispatch(actor=user, lead_ids=ids(leads, "Acme Trading"), assignee="sp-a-account_manager")
    assert e.value.code == "dispatch_forbidden"


def test_batch_with_another_partners_lead_writes_nothing(org, leads):  # noqa: F811
    before = snapshot()
    with pytest.raises(NotFound):
        svc.dispatch(
            actor=org.users["sp-a-admin"],
            lead_ids=ids(leads, "Acme Trading", "Delta Retail"),
            assignee="sp-a-account_manager",
        )
    assert snapshot() == before


def test_cross_partner_dispatch_refused_with_nothing_written(org, leads):  # noqa: F811
    before = snapshot()
    # sp-a's admin cannot even name sp-b's staff
    with pytest.raises(NotFound):
        svc.dispatch(
            actor=org.users["sp-a-admin"], lead_ids=ids(leads, "Acme Trading"), assignee="sp-b-account_manager"
        )
    # the platform operator sees both, but a lead goes only to its own partner's staff
    with pytest.raises(ValidationFailed) as e:
        svc.dispatch(
            actor=org.users["op"],
            lead_ids=ids(leads, "Acme Trading", "Delta Retail"),
            assignee="sp-b-account_manager",
        )
    assert e.value.code == "other_partner"
    assert e.value.details == [
        {"lead": leads["Acme Trading"].number, "why": "belongs to another partner than sp-b-account_manager"}
    ]
    assert snapshot() == before


def test_assignee_must_hold_the_menu(org, leads):  # noqa: F811
    with pytest.raises(ValidationFailed) as e:
        svc.dispatch(actor=org.users["sp-a-admin"], lead_ids=ids(leads, "Acme Trading"), assignee="sp-a-finance")
    assert e.value.code == "assignee_without_menu"
    assert [u.username for u in sel.staff_for(org.users["sp-a-admin"], org.partners["sp-a"].pk)] == [
        "sp-a-account_manager",
        "sp-a-admin",
        "sp-a-operator",
    ]


def test_batch_with_one_undispatchable_lead_writes_nothing(org, leads):  # noqa: F811
    admin, am = org.users["sp-a-admin"], org.users["sp-a-account_manager"]
    svc.dispatch(actor=admin, lead_ids=ids(leads, "Acme Trading"), assignee=am.username)
    before = snapshot()
    with pytest.raises(Conflict) as e:
        svc.dispatch(actor=admin, lead_ids=ids(leads, "Acme Trading", "Cedar Logistics"), assignee=am.username)
    assert e.value.details == [
        {"lead": leads["Acme Trading"].number, "why": "is already dispatched to sp-a-account_manager"}
    ]
    with pytest.raises(Conflict) as e:
        svc.recall(actor=admin, lead_ids=ids(leads, "Acme Trading", "Cedar Logistics"))
    assert e.value.details == [{"lead": leads["Cedar Logistics"].number, "why": "is not dispatched"}]
    assert snapshot() == before


def test_dispatch_idempotency(org, leads):  # noqa: F811
    admin = org.users["sp-a-admin"]
    first = svc.dispatch(
        actor=admin, lead_ids=ids(leads, "Acme Trading"), assignee="sp-a-account_manager", idempotency_key="d1"
    )
    again = svc.dispatch(
        actor=admin, lead_ids=ids(leads, "Acme Trading"), assignee="sp-a-account_manager", idempotency_key="d1"
    )
    assert [x.pk for x in again] == [x.pk for x in first]
    assert LeadEvent.objects.filter(kind="dispatched").count() == 1
    before = snapshot()
    with pytest.raises(Conflict) as e:
        svc.dispatch(
            actor=admin, lead_ids=ids(leads, "Cedar Logistics"), assignee="sp-a-operator", idempotency_key="d1"
        )
    assert e.value.code == "idempotency_key_reused"
    assert snapshot() == before


def test_staff_updates_status_of_their_own_leads_only(org, leads):  # noqa: F811
    admin, am = org.users["sp-a-admin"], org.users["sp-a-account_manager"]
    with clock.frozen_at(T0):
        svc.dispatch(actor=admin, lead_ids=ids(leads, "Acme Trading"), assignee=am.username)
    with clock.frozen_at(LATER):
        lead = svc.update_status(actor=am, lead_id=leads["Acme Trading"].pk, status="contacting", note="called")
    assert lead.status == "contacting"
    last = lead.events.last()
    assert (last.kind, last.at, last.actor, last.from_status, last.to_status, last.note) == (
        "status_changed",
        LATER,
        am,
        "new",
        "contacting",
        "called",
    )
    before = snapshot()
    with pytest.raises(NotFound):  # not dispatched to them: invisible
        svc.update_status(actor=am, lead_id=leads["Cedar Logistics"].pk, status="contacting")
    with pytest.raises(Forbidden):  # the admin sees it but is not the assignee
        svc.update_status(actor=admin, lead_id=leads["Acme Trading"].pk, status="qualified")
    with pytest.raises(ValidationFailed):
        svc.update_status(actor=am, lead_id=leads["Acme Trading"].pk, status="new")
    with pytest.raises(Conflict):
        svc.update_status(actor=am, lead_id=leads["Acme Trading"].pk, status="contacting")
    assert snapshot() == before


def test_closed_leads_are_not_dispatched_or_recalled(org, leads):  # noqa: F811
    admin, am = org.users["sp-a-admin"], org.users["sp-a-account_manager"]
    svc.dispatch(actor=admin, lead_ids=ids(leads, "Acme Trading"), assignee=am.username)
    svc.update_status(actor=am, lead_id=leads["Acme Trading"].pk, status="converted")
    before = snapshot()
    with pytest.raises(Conflict):
        svc.recall(actor=admin, lead_ids=ids(leads, "Acme Trading"))
    with pytest.raises(Conflict):
        svc.dispatch(actor=admin, lead_ids=ids(leads, "Acme Trading"), assignee="sp-a-operator")
    assert snapshot() == before


def test_search_scoped_and_masked(org, leads):  # noqa: F811
    admin, am, op = org.users["sp-a-admin"], org.users["sp-a-account_manager"], org.users["sp-a-operator"]
    svc.dispatch(actor=admin, lead_ids=ids(leads, "Blue River Foods"), assignee=am.username)
    found = lambda u, **kw: sorted(sel.search(u, sel.LeadFilter(**kw)).values_list("company", flat=True))  # noqa: E731
    assert found(admin) == ["Acme Trading", "Blue River Foods", "Cedar Logistics"]
    assert found(org.users["sp-b-admin"]) == ["Delta Retail"]
    assert len(found(org.users["op"])) == 4
    assert found(am) == ["Blue River Foods"]
    assert found(admin, product="object") == ["Cedar Logistics"]
    assert found(admin, assignee="none") == ["Acme Trading", "Cedar Logistics"]
    assert found(admin, assignee=am.username) == ["Blue River Foods"]
    assert found(admin, status="new") == ["Acme Trading", "Blue River Foods", "Cedar Logistics"]
    # the admin may reveal contact data and finds by it; an operator sees it masked: only "A****h" matches
    assert found(admin, text="alice@blueriver") == ["Blue River Foods"]
    assert found(op, text="alice@blueriver") == []
    assert found(op, text="Alice") == []
    assert found(op, text="A****h") == ["Blue River Foods"]
    assert found(org.users["sp-a-finance"]) == []


def test_operator_adds_a_lead_in_the_admin(org, client):
    client.force_login(org.users["op"])
    form = {
        "partner": org.partners["sp-a"].pk,
        "company": "Admin Co",
        "contact_name": "赵六",
        "phone": "",
        "email": "not-an-email",
        "source": "Phone",
        "product_interest": "CDN",
    }
    r = client.post("/admin/leads/lead/add/", form)
    assert r.status_code == 200 and "not an email address" in r.content.decode()
    assert Lead.objects.count() == 0
    r = client.post("/admin/leads/lead/add/", {**form, "email": "zhao@admin.example"})
    assert r.status_code == 302
    (lead,) = Lead.objects.all()
    assert (lead.number, lead.company, lead.created_by, lead.status) == (
        f"LEAD-{lead.pk:06d}",
        "Admin Co",
        org.users["op"],
        "new",
    )
    assert list(lead.events.values_list("kind", flat=True)) == ["created"]
