"""Search options of the Customer Expenditure page (seed 000: Customer Name, Spent On, Account
Manager, Association Type; seed 002 消费明细: the details filters)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from partnercenter.accounts.models import User
from partnercenter.partners.models import AssociationType
from partnercenter.partners.selectors import account_managers
from partnercenter.usage.models import BillingMode, Classification, ServiceType

from . import selectors

FORMATS = [("xlsx", "XLSX"), ("csv", "CSV")]


def _manager_label(u: User) -> str:
    return f"{u.get_full_name()} ({u.username})" if u.get_full_name() else u.username


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class _PeriodForm(forms.Form):
    start = forms.DateField(label=_("Spent on (from)"), required=False, widget=DateInput())
    end = forms.DateField(label=_("Spent on (to)"), required=False, widget=DateInput())

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise forms.ValidationError(_("The start date must not be after the end date."), code="period")
        return data

    def _value(self, name: str) -> Any:
        """The cleaned value, or nothing for a field that did not validate (it does not filter)."""
        return self.cleaned_data.get(name) if hasattr(self, "cleaned_data") else None

    def _period(self) -> tuple[Any, Any]:
        # A start after the end is reported on the form and gives an empty period (no rows).
        self.is_valid()
        return self._value("start"), self._value("end")


class SummaryFilterForm(_PeriodForm):
    """Expenditure Summary tab; every field is optional. Dates default to this month."""

    name = forms.CharField(
        label=_("Customer name"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Customer name")}),
    )
    manager = forms.ChoiceField(label=_("Account manager"), required=False)
    association_type = forms.ChoiceField(label=_("Association type"), required=False)
    sort = forms.ChoiceField(required=False, widget=forms.HiddenInput)

    field_order = ("name", "start", "end", "manager", "association_type", "sort")

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["association_type"].choices = [("", _("All")), *AssociationType.choices]  # type: ignore[attr-defined]
        self.fields["sort"].choices = [  # type: ignore[attr-defined]
            ("", ""),
            *[(s, s) for s in selectors.SUMMARY_SORTS],
            *[(f"-{s}", f"-{s}") for s in selectors.SUMMARY_SORTS],
        ]
        # An account manager sees only their own customers: the filter would be pointless.
        self.shows_manager = not user.is_account_manager
        if self.shows_manager:
            managers = [(str(u.pk), _manager_label(u)) for u in account_managers(user)]
            self.fields["manager"].choices = [("", _("All")), *managers]  # type: ignore[attr-defined]
        else:
            del self.fields["manager"]

    def to_filter(self) -> selectors.SummaryFilter:
        start, end = self._period()
        manager = self._value("manager") or ""
        return selectors.SummaryFilter(
            name=(self._value("name") or "").strip(),
            start=start,
            end=end,
            manager_id=int(manager) if manager.isdigit() else None,
            association_type=self._value("association_type") or "",
            sort=self._value("sort") or "-expenditure",
        )


class DetailFilterForm(_PeriodForm):
    """Expenditure Details tab (消费明细): the line items behind the summary."""

    account_id = forms.CharField(label=_("Account ID"), required=False, max_length=64)
    product = forms.ChoiceField(label=_("Product"), required=False)
    service_type = forms.ChoiceField(label=_("Service type"), required=False)
    region_id = forms.ChoiceField(label=_("Region"), required=False)
    billing_mode = forms.ChoiceField(label=_("Billing mode"), required=False)
    classification = forms.ChoiceField(label=_("Classification"), required=False)
    order_id = forms.CharField(label=_("Order ID"), required=False, max_length=128)
    resource_id = forms.CharField(label=_("Resource ID"), required=False, max_length=512)
    project = forms.ChoiceField(label=_("Project"), required=False)

    field_order = (
        "account_id",
        "start",
        "end",
        "product",
        "service_type",
        "region_id",
        "billing_mode",
        "classification",
        "order_id",
        "resource_id",
        "project",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = selectors.filter_choices(user)
        data = self.data if self.is_bound else {}

        def options(values: list[str], name: str) -> list[tuple[str, Any]]:
            # A value carried in the URL (a link from the summary) stays selectable even when the
            # drop-down would not list it; it simply matches nothing then.
            current = data.get(name) or ""
            listed = [v for v in values if v]
            if current and current not in listed:
                listed.append(current)
            return [("", _("All")), *[(v, v) for v in listed]]

        self.fields["product"].choices = options(choices["products"], "product")  # type: ignore[attr-defined]
        self.fields["region_id"].choices = options(choices["regions"], "region_id")  # type: ignore[attr-defined]
        self.fields["project"].choices = options(choices["projects"], "project")  # type: ignore[attr-defined]
        self.fields["service_type"].choices = [("", _("All")), *ServiceType.choices]  # type: ignore[attr-defined]
        self.fields["billing_mode"].choices = [("", _("All")), *BillingMode.choices]  # type: ignore[attr-defined]
        self.fields["classification"].choices = [("", _("All")), *Classification.choices]  # type: ignore[attr-defined]

    def to_filter(self) -> selectors.DetailFilter:
        start, end = self._period()
        text = {k: (self._value(k) or "").strip() for k in ("account_id", "order_id", "resource_id")}
        chosen = {
            k: self._value(k) or ""
            for k in ("product", "service_type", "region_id", "billing_mode", "classification", "project")
        }
        return selectors.DetailFilter(start=start, end=end, **text, **chosen)


class ExportForm(forms.Form):
    """The Export menu: which export and which format; the search options come with it."""

    kind = forms.ChoiceField(choices=[("summary", "summary"), ("details", "details")])
    format = forms.ChoiceField(label=_("Format"), choices=FORMATS)
