from django.urls import path

from tallyroom.polling import views

app_name = "polling"
urlpatterns = [
    path("", views.home, name="home"),
    path("photos/<int:photo_id>/", views.photo, name="photo"),
    path("<str:code>/dashboard/", views.dashboard, name="dashboard"),
    path("<str:code>/dashboard/live.json", views.dashboard_live, name="dashboard-live"),
    path("<str:code>/incidents/", views.incidents, name="incidents"),
    path("<str:code>/turnout-review/", views.review, name="review"),
    path("<str:code>/observers/", views.observers, name="observers"),
    path("<str:code>/stations/", views.stations, name="stations"),
    # Station codes hold a slash (0101C/01R): the code is the rest of the path.
    path("<str:code>/station/<path:station>", views.station, name="station"),
]
