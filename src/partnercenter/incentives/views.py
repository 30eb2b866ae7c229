from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from partnercenter.core import menus
from partnercenter.core.decorators import menu_required


@menu_required(menus.INCENTIVE_MANAGEMENT)
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "incentives/index.html")


urlpatterns = [path("", index, name="index")]
