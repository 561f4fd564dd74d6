"""Django settings. Every deployment knob is an environment variable (see docs/operations.md)."""

from __future__ import annotations

import datetime as dt
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
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "tallyroom.accounts",
    "tallyroom.elections",
    "tallyroom.polling",
    "tallyroom.results",
    "tallyroom.publish",
    "tallyroom.audit",
    "axes",  # login throttling
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "tallyroom.accounts.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
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
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
# django-axes watches every password check first (it needs the request: see docs/security.md).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
# POST /api/v1/result-forms/bulk takes up to 10,000 forms (about 0.5-3 KB each): Django's default
# body limit of 2.5 MiB refused any batch above some 5,000. The API reads a body only after auth.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("TALLYROOM_MAX_BODY_BYTES", str(32 * 1024 * 1024)))

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
# Above this many stations an election's snapshots leave out the station pages and the election-wide
# files (served live instead): see docs/publication.md, "National scale".
TALLYROOM_SNAPSHOT_MAX_STATIONS = int(os.environ.get("TALLYROOM_SNAPSHOT_MAX_STATIONS", "100000"))
# Seconds a change waits for others to publish with it (the live publisher never waits for quiet).
TALLYROOM_PUBLISH_DEBOUNCE = float(os.environ.get("TALLYROOM_PUBLISH_DEBOUNCE", "0.2"))
# The election-wide data files (tens of MB) are refreshed at most this often by the live publisher.
TALLYROOM_PUBLISH_NATIONAL_EVERY = float(os.environ.get("TALLYROOM_PUBLISH_NATIONAL_EVERY", "30"))
# Processes that fill a snapshot when many municipalities changed at once (PostgreSQL only; more than
# 1 pays only with cores to spare: on 2 cores shared with the ingest it measured no better).
TALLYROOM_PUBLISH_WORKERS = int(os.environ.get("TALLYROOM_PUBLISH_WORKERS", "1"))
# The live results feed rewrites at most this many municipalities' full files per feed (the longest
# waiting first); every contest's headline is always current (publication.md, "The live results feed").
TALLYROOM_FEED_FULL_PER_CUT = int(os.environ.get("TALLYROOM_FEED_FULL_PER_CUT", "100"))
# The lagging files' process yields the CPU to the page publisher and the ingest (os.nice increment).
TALLYROOM_LAGGING_NICE = int(os.environ.get("TALLYROOM_LAGGING_NICE", "10"))
# The newest snapshots kept under the live root (0: every one). Each is thousands of folders: on a
# tmpfs, a snapshot a second used up its inodes in about twelve minutes.
TALLYROOM_SNAPSHOTS_KEEP = int(os.environ.get("TALLYROOM_SNAPSHOTS_KEEP", "100"))

# Access (docs/security.md). TALLYROOM_SECURE=1 behind TLS: secure cookies, HSTS, HTTPS redirect. Off by
# default so the demo works over plain HTTP on 127.0.0.1; `tallyroom check --deploy` fails without it.
TALLYROOM_SECURE = _env_bool("TALLYROOM_SECURE", False)
TALLYROOM_PROXY_COUNT = int(os.environ.get("TALLYROOM_PROXY_COUNT", "0"))  # trusted reverse proxies in front
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = TALLYROOM_SECURE
CSRF_COOKIE_SECURE = TALLYROOM_SECURE
SECURE_SSL_REDIRECT = TALLYROOM_SECURE
SECURE_HSTS_SECONDS = int(os.environ.get("TALLYROOM_HSTS_SECONDS", "31536000")) if TALLYROOM_SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("TALLYROOM_HSTS_SUBDOMAINS", False)
if TALLYROOM_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The same policy as the snapshot server's (publish.serving): nothing inline, nothing from elsewhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
    }
}

# Two-factor sign-in for administrators, officials and auditors (accounts.twofactor).
TALLYROOM_REQUIRE_2FA = _env_bool("TALLYROOM_REQUIRE_2FA", True)
TALLYROOM_STAFF_SESSION_HOURS = float(os.environ.get("TALLYROOM_STAFF_SESSION_HOURS", "8"))
OTP_TOTP_ISSUER = "Tallyroom"
# Login throttling (django-axes): wrong passwords and codes per user name and address.
AXES_FAILURE_LIMIT = int(os.environ.get("TALLYROOM_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = dt.timedelta(minutes=float(os.environ.get("TALLYROOM_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_CALLABLE = "tallyroom.accounts.views.lockout_response"
AXES_CLIENT_IP_CALLABLE = "tallyroom.accounts.twofactor.client_ip"
AXES_DISABLE_ACCESS_LOG = True  # sign-ins are on the audit chain
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp_token"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("TALLYROOM_LOG_LEVEL", "WARNING")},
}
