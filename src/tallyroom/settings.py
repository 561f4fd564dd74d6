"""Django settings. Every deployment knob is an environment variable (see docs/operations.md)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.utils.translation import gettext_lazy as _

django_stubs_ext.monkeypatch()  # lets admin.ModelAdmin[Model] annotations run

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("TALLYROOM_DATA_DIR", Path.cwd()))


def _env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """From the environment, else a key kept beside the embedded database (created once, 0600)."""
    key = os.environ.get("TALLYROOM_SECRET_KEY")
    if key:
        return key
    path = DATA_DIR / "tallyroom-secret.key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(50)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except (FileExistsError, PermissionError, OSError):
        return path.read_text().strip() if path.exists() else key
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def database_config(url: str | None) -> dict[str, object]:
    """DATABASE_URL, or the embedded SQLite file `tallyroom.sqlite3` in the current directory."""
    url = url or f"sqlite:///{(Path.cwd() / 'tallyroom.sqlite3').as_posix()}"
    config: dict[str, object] = dict(dj_database_url.parse(url, conn_max_age=60))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets readers work while a writer commits; IMMEDIATE avoids upgrade deadlocks.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
        }
        config["CONN_MAX_AGE"] = 0
        # Tests use a file too (not SQLite's shared in-memory database), so concurrent test
        # clients see real WAL locking rather than table locks.
        name = Path(str(config["NAME"]))
        config["TEST"] = {"NAME": str(name.with_name(f"test_{name.name}"))}
    return config


DEBUG = _env_bool("TALLYROOM_DEBUG", False)
SECRET_KEY = _secret_key()
ALLOWED_HOSTS = [h for h in os.environ.get("TALLYROOM_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("TALLYROOM_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",  # serves Swagger UI from its own static files, not a CDN
    "tallyroom.accounts",
    "tallyroom.elections",
    "tallyroom.polling",
    "tallyroom.results",
    "tallyroom.publish",
    "tallyroom.audit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "tallyroom.urls"
WSGI_APPLICATION = "tallyroom.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": database_config(os.environ.get("DATABASE_URL"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Argon2id for new passwords; PBKDF2 still verifies (and upgrades) older hashes.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
LOGIN_URL = "/accounts/login/"

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("sq", _("Albanian")),
    ("sr-latn", _("Serbian (Latin)")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Unset: WhiteNoise serves straight from the apps' static folders (no collectstatic step needed).
STATIC_ROOT = os.environ.get("TALLYROOM_STATIC_ROOT") or None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = Path(os.environ.get("TALLYROOM_MEDIA_ROOT", DATA_DIR / "media"))

# Publication: signed static snapshots of the public site, the newest served to readers.
TALLYROOM_SIGNING_KEY = Path(os.environ.get("TALLYROOM_SIGNING_KEY", DATA_DIR / "tallyroom-signing-key.pem"))
TALLYROOM_SNAPSHOT_ROOT = Path(os.environ.get("TALLYROOM_SNAPSHOT_ROOT", DATA_DIR / "snapshots"))
TALLYROOM_PUBLISH_DEBOUNCE = float(os.environ.get("TALLYROOM_PUBLISH_DEBOUNCE", "1.0"))
TALLYROOM_SNAPSHOTS_KEEP = int(os.environ.get("TALLYROOM_SNAPSHOTS_KEEP", "0"))  # 0: keep every snapshot

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = _env_bool("TALLYROOM_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("TALLYROOM_LOG_LEVEL", "WARNING")},
}
