from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from partnercenter.core import menus
from partnercenter.core.decorators import menu_required


@menu_required(menus.PAYMENT_CONTRACTS)
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "contracts/index.html")
