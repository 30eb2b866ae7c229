from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from partnercenter.core import menus
from partnercenter.core.decorators import menu_required


@menu_required(menus.MARKETPLACE_LINKS)
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "marketplace/index.html")


@menu_required(menus.REVENUE_SHARING)
def revenue(request: HttpRequest) -> HttpResponse:
    return render(request, "marketplace/revenue.html")
