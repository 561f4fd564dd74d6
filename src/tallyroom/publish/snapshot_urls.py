from django.urls import path

from tallyroom.publish import snapshot_views

app_name = "snapshots"
urlpatterns = [
    path("", snapshot_views.snapshot_list, name="list"),
]

# Outside the language prefix: files are the same in every language.
file_urlpatterns = [
    path("snapshots/<str:name>/", snapshot_views.snapshot_file, name="snapshot-root"),
    path("snapshots/<str:name>/<path:path>", snapshot_views.snapshot_file, name="snapshot-file"),
    path("publication-key.pem", snapshot_views.publication_key, name="publication-key"),
]
