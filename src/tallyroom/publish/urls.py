from django.urls import path

from tallyroom.publish import views

app_name = "publish"
urlpatterns = [
    path("", views.home, name="home"),
    path("elections/<str:code>/", views.election_detail, name="election"),
    path("elections/<str:code>/stations/<str:station>/", views.station_detail, name="station"),
    path("elections/<str:code>/<str:municipality>/", views.municipality_detail, name="municipality"),
]
