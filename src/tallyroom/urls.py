from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from tallyroom.api.main import api
from tallyroom.publish.snapshot_urls import file_urlpatterns as snapshot_files

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("data/", include("tallyroom.publish.data_urls")),
    *snapshot_files,
]
urlpatterns += i18n_patterns(
    path("admin/", admin.site.urls),
    path("accounts/", include("tallyroom.accounts.urls")),
    path("election-day/", include("tallyroom.polling.urls")),
    path("count/", include("tallyroom.results.urls")),
    path("snapshots/", include("tallyroom.publish.snapshot_urls")),
    path("elections/<str:code>/integrity/", include("tallyroom.publish.integrity_urls")),
    path("", include("tallyroom.publish.urls")),
    prefix_default_language=False,
)
handler404 = "tallyroom.api.errors.api_not_found"
