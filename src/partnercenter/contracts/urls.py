from django.urls import path

from . import views

app_name = "contracts"
urlpatterns = [
    path("", views.index, name="index"),
    path("<str:number>/", views.detail, name="detail"),
    path("<str:number>/contract.pdf", views.contract_pdf, name="pdf"),
    path("<str:number>/<str:action>/", views.step, name="step"),
]
