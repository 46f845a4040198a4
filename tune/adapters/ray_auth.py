"""Ray's token authentication: whether it is on (Ray has no public call for it)."""

from __future__ import annotations

import os

from tune.adapters import probe


def token_auth_enabled() -> bool:
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "token":
        return True
    try:
        from ray._private.authentication.authentication_utils import is_token_auth_enabled

        return bool(is_token_auth_enabled())
    except Exception:  # an older Ray without token authentication, or one that moved it
        return False


def missing() -> list[str]:
    def check():
        from ray._private.authentication.authentication_utils import is_token_auth_enabled

        return isinstance(is_token_auth_enabled(), bool)

    return probe("ray._private.authentication.authentication_utils", {"is_token_auth_enabled": check})
