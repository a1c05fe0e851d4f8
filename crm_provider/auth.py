"""HTTP Basic authentication, one credential list per kind of caller.

Each blueprint states its scope (`spi`, `admin`, ...); `before_request` checks the
`Authorization` header against that scope's list. Secrets are held as SHA-256 digests and compared in
constant time; an unknown user costs the same comparison as a known one. A credential that matches no list
is reported to `on_failure` (ratelimit.FailedSignIns: the limit of failed sign-ins per client address), which
may refuse it with a 429 instead of the 401.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable

from flask import Flask, g, request

from .errors import Forbidden, Unauthorized

REALM = "crm-provider"
_NO_USER_DIGEST = hashlib.sha256(b"no such user").digest()


def basic_credentials() -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def check(users: dict[str, bytes], user: str, password: str) -> bool:
    digest = hashlib.sha256(password.encode()).digest()
    known = users.get(user, _NO_USER_DIGEST)
    return hmac.compare_digest(digest, known) and user in users


def _challenge(text: str) -> Unauthorized:
    return Unauthorized(text, headers={"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'})


def authenticate(scopes: dict[str, str], credential_lists: dict[str, dict[str, bytes]],
                 on_failure: Callable[[str], None] | None = None) -> None:
    scope = scopes.get(request.blueprint or "")
    g.scope = scope
    if scope is None:
        return  # public: health, docs
    given = basic_credentials()
    if given is None:
        raise _challenge("Authentication is required")
    user, password = given
    g.attempted_user = user
    if check(credential_lists.get(scope, {}), user, password):
        g.credential = user
        return
    if any(check(users, user, password) for other, users in credential_lists.items() if other != scope):
        g.credential = user
        raise Forbidden(f"The credential has no access to the {scope} routes")
    if on_failure is not None:
        on_failure(scope)
    raise _challenge("Invalid credentials")


def init_app(app: Flask, scopes: dict[str, str], credential_lists: dict[str, dict[str, bytes]],
             on_failure: Callable[[str], None] | None = None) -> None:
    """`scopes`: blueprint name -> the credential list that may call it (blueprints not named are public)."""
    app.before_request(lambda: authenticate(scopes, credential_lists, on_failure))
