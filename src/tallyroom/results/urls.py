from django.urls import path

from tallyroom.results import views, views_supervisor

app_name = "results"
urlpatterns = [
    path("<str:code>/", views.home, name="home"),
    path("<str:code>/entry/", views.entry, name="entry"),
    path("<str:code>/quarantine/", views.queue, name="queue"),
    path("<str:code>/forms/<int:form_id>/", views.form_detail, name="form"),
    path("<str:code>/forms/<int:form_id>/resolve/", views_supervisor.resolve, name="resolve"),
    path("<str:code>/forms/<str:state>.csv", views.forms_csv, name="forms-csv"),
    path("<str:code>/disputed/", views_supervisor.disputed, name="disputed"),
    path("<str:code>/complaints/", views.complaints, name="complaints"),
    path("<str:code>/complaints/<int:complaint_id>/decision/", views.complaint_decide, name="complaint-decide"),
    path("<str:code>/progress/", views.progress, name="progress"),
    path("<str:code>/contests/<int:contest_id>/certify/", views.certify, name="certify"),
]
