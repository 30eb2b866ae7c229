from django.http import HttpRequest, HttpResponse


def locked_out(request: HttpRequest, credentials: dict | None = None, *args: object, **kwargs: object) -> HttpResponse:
    return HttpResponse("Too many failed sign-ins; try again later.", status=429)
