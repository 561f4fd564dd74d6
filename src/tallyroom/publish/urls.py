from django.urls import path

from tallyroom.publish import views

app_name = "publish"
urlpatterns = [
    path("", views.home, name="home"),
    path("elections/<str:code>/", views.election_detail, name="election"),
]
