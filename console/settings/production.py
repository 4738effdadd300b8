"""Production settings: secure by default. `manage.py check --deploy` passes with zero warnings.

Requires FORGE_ALLOWED_HOSTS. Serve behind a TLS-terminating proxy; set
FORGE_SECURE_PROXY_SSL_HEADER=true when that proxy sets X-Forwarded-Proto.
"""

from console.settings.base import *  # noqa: F403
from console.settings.base import env

DEBUG = False
ALLOWED_HOSTS = env.list("FORGE_ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("FORGE_ALLOWED_HOSTS must name at least one host in production.")

SECURE_SSL_REDIRECT = env.bool("FORGE_SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("FORGE_HSTS_SECONDS", 31_536_000, min=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
if env.bool("FORGE_SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
WHITENOISE_USE_FINDERS = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
