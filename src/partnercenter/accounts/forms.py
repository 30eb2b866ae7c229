from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from partnercenter.accounts.roles import ADMIN_ONLY
from partnercenter.core import menus


class SignInForm(AuthenticationForm):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["username"].label = _("Username")
        self.fields["password"].label = _("Password")


def _menu_choices() -> list[tuple[str, str]]:
    return [(m.code, str(m.label)) for m in menus.CATALOGUE if m.code not in ADMIN_ONLY]


class MenuForm(forms.Form):
    menus = forms.MultipleChoiceField(
        label=_("Menus"),
        choices=_menu_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
