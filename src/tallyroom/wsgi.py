"""WSGI entry point for production servers (gunicorn, granian).

Public pages and open data come from the newest published snapshot when there is one
(`tallyroom.publish.serving`); set TALLYROOM_SERVE_SNAPSHOTS=0 to always render them live.
"""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tallyroom.settings")
django_application = get_wsgi_application()
application = django_application
if os.environ.get("TALLYROOM_SERVE_SNAPSHOTS", "1") != "0":
    from tallyroom.publish.serving import DEFAULT_CSP, SnapshotServer, csp_header

    policy = getattr(settings, "CONTENT_SECURITY_POLICY", None)
    csp = csp_header(policy["DIRECTIVES"]) if policy else DEFAULT_CSP
    from tallyroom.publish.feed import feed_root

    pages = SnapshotServer(django_application, settings.TALLYROOM_SNAPSHOT_ROOT, csp=csp)
    # The results feed (publish/feed.py) at /feed/, its newest cut read afresh every 0.1 s.
    feed = SnapshotServer(pages, feed_root(settings.TALLYROOM_SNAPSHOT_ROOT), csp=csp, recheck=0.1, prefix="feed/")
    application = feed  # type: ignore[assignment]
