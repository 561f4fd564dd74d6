"""What was published when: the list of snapshots, their files, and the key that verifies them."""

from __future__ import annotations

import mimetypes

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from tallyroom.publish import signing
from tallyroom.publish.models import Publication
from tallyroom.publish.services import snapshot_root


@require_safe
def snapshot_list(request: HttpRequest) -> HttpResponse:
    key = signing.private_key_load()
    context = {
        "publications": Publication.objects.order_by("-created_at")[:500],
        "fingerprint": signing.key_fingerprint(key.public_key()),
        "public_key": signing.public_key_pem(key).decode("ascii"),
        "tz": "UTC",
    }
    return render(request, "publish/snapshots.html", context)


@require_safe
def snapshot_file(request: HttpRequest, name: str, path: str = "") -> FileResponse:
    """A file of any snapshot still on disk, so anyone can fetch what was published at the time."""
    root = snapshot_root().resolve()
    folder = (root / name).resolve()
    target = (folder / (path or "index.html")).resolve()
    if path.endswith("/"):
        target = target / "index.html"
    if name.startswith(".") or folder.parent != root or folder not in target.parents or not target.is_file():
        raise Http404
    content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    response = FileResponse(target.open("rb"), content_type=content_type)
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_safe
def publication_key(request: HttpRequest) -> HttpResponse:
    pem = signing.public_key_pem(signing.private_key_load())
    return HttpResponse(pem, content_type="application/x-pem-file")
