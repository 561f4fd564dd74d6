"""The integrity page, mounted at elections/<code>/integrity/ (before the results pages' catch-all
municipality pattern, which would otherwise take "integrity" for a municipality code)."""

from django.urls import path

from tallyroom.publish import integrity_views

app_name = "integrity"
urlpatterns = [
    path("", integrity_views.election_integrity, name="election"),
]
