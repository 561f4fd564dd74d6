"""Ed25519 signatures over published manifests, so a copy of a snapshot can be checked offline.

The commission keeps the private key (PEM, PKCS#8) at `TALLYROOM_SIGNING_KEY`; the public key is
published with every snapshot. A key is created on first use when the file is missing, readable by
its owner only; production installs create it once and keep a backup offline.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class SigningKeyError(ValueError):
    """A key file that cannot be read as the kind of Ed25519 key it should hold."""


def key_path() -> Path:
    from django.conf import settings

    return Path(settings.TALLYROOM_SIGNING_KEY)


def private_key_load(path: Path | None = None, *, create: bool = True) -> Ed25519PrivateKey:
    path = path or key_path()
    if not path.exists():
        if not create:
            raise SigningKeyError(f"no signing key at {path}")
        return private_key_create(path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 private key")
    return key


def private_key_create(path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two processes starting at once must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return private_key_load(path, create=False)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return key


def public_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_load(data: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise SigningKeyError("not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError("not an Ed25519 public key")
    return key


def sign(key: Ed25519PrivateKey, message: bytes) -> bytes:
    """The signature as base64 text (one line), easy to publish next to the signed file."""
    return base64.b64encode(key.sign(message)) + b"\n"


def signature_valid(key: Ed25519PublicKey, message: bytes, signature: bytes) -> bool:
    try:
        key.verify(base64.b64decode(signature.strip(), validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def key_fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, hex: short enough to read out over the phone."""
    import hashlib

    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()
