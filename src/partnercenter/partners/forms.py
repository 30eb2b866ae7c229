from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from partnercenter.accounts.models import User

from . import selectors
from .models import AssociationType

UNASSIGNED = "unassigned"


def _manager_label(u: User) -> str:
    return f"{u.get_full_name()} ({u.username})" if u.get_full_name() else u.username


class CustomerFilterForm(forms.Form):
    """Search options of the customer lists; every field is optional."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Name, account ID or email")}),
    )
    association_type = forms.ChoiceField(label=_("Association type"), required=False)
    manager = forms.ChoiceField(label=_("Account manager"), required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["association_type"].choices = [("", _("All")), *AssociationType.choices]  # type: ignore[attr-defined]
        managers = [(str(u.pk), _manager_label(u)) for u in selectors.account_managers(user)]
        self.fields["manager"].choices = [  # type: ignore[attr-defined]
            ("", _("All")),
            (UNASSIGNED, _("Unassigned")),
            *managers,
        ]

    def to_filter(self) -> selectors.CustomerFilter:
        self.is_valid()  # invalid fields are left out of cleaned_data and do not filter
        manager = self.cleaned_data.get("manager") or ""
        return selectors.CustomerFilter(
            search=(self.cleaned_data.get("q") or "").strip(),
            association_type=self.cleaned_data.get("association_type") or "",
            manager_id=int(manager) if manager.isdigit() else None,
            unassigned=manager == UNASSIGNED,
        )


class ManagerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return _manager_label(obj)


class AssignmentForm(forms.Form):
    """The account manager to assign the chosen customers to; customers come as ``customer`` values."""

    manager = ManagerChoiceField(label=_("Account manager"), queryset=User.objects.none(), empty_label=None)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "assign_%s")  # the filter form on the same page has its own manager field
        super().__init__(*args, **kwargs)
        field = self.fields["manager"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = selectors.account_managers(user)
        field.error_messages["invalid_choice"] = _("Choose one of your partner's account managers.")
