"""/accounts/: sign-in with the second factor, then Django's own views (logout, password change)."""

from django.urls import URLPattern, URLResolver, include, path

from tallyroom.accounts import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("login/", views.SignInView.as_view(), name="login"),
    path("two-factor/", views.two_factor, name="two_factor"),
    path("two-factor/setup/", views.two_factor_setup, name="two_factor_setup"),
    path("", include("django.contrib.auth.urls")),
]
