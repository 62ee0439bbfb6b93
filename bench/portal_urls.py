"""The project's URLs plus /bare: a Django view that does nothing, behind the same middleware."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bare", bare), path("", include("config.urls"))]
