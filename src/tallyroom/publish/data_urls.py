"""Open-data URLs, outside the language prefixes: the same path answers in every language."""

from django.urls import URLPattern, path

from tallyroom.publish import data_views as views
from tallyroom.publish.opendata import FILE_NAMES

app_name = "data"

urlpatterns: list[URLPattern] = [
    path("", views.elections_index, name="root"),
    path("index.json", views.elections_index, name="elections"),
    path("<str:code>/", views.election_index, name="index-dir"),
    path("<str:code>/index.json", views.election_index, name="index"),
]
for fmt, file_name in FILE_NAMES.items():
    urlpatterns += [
        path(f"<str:code>/{file_name}", views.data_file, {"fmt": str(fmt)}, name=str(fmt)),
        path(
            f"<str:code>/<str:municipality>/{file_name}",
            views.data_file,
            {"fmt": str(fmt)},
            name=f"municipality-{fmt}",
        ),
    ]
