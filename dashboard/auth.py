"""HTTP Basic authentication for every route of the server (pages, callbacks, assets, audio, exports).

Basic auth is what ``werbench serve --auth`` promises: enough to keep a dashboard on a shared host private
behind TLS or an SSH tunnel, with no user database. Comparisons are constant-time.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from pathlib import Path

import flask
from werbench.manifests.errors import ConfigError
from werbench.manifests.io import iter_lines


def parse_credential(text: str, source: str = "--auth", line: int | None = None) -> tuple[str, str]:
    """``user:password`` -> (user, password); the password may itself contain colons."""
    user, sep, password = text.strip().partition(":")
    if not sep or not user or not password:
        raise ConfigError(
            source, "expected 'user:password' with both parts non-empty", line=line, field="auth"
        )
    return user, password


def read_auth_file(path: str | Path) -> dict[str, str]:
    """One ``user:password`` per line; blank lines and ``#`` comments are skipped."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, "auth file not found")
    users: dict[str, str] = {}
    for number, raw in iter_lines(path):
        if raw.strip() and not raw.lstrip().startswith("#"):
            user, password = parse_credential(raw, str(path), number)
            users[user] = password
    if not users:
        raise ConfigError(path, "no 'user:password' line found")
    return users


def _authorised(users: Mapping[str, str], auth: flask.Request) -> bool:
    creds = auth.authorization
    if creds is None or creds.type != "basic" or creds.username is None or creds.password is None:
        return False
    expected = users.get(creds.username)
    # compare against a dummy when the user is unknown so timing does not reveal which names exist
    return hmac.compare_digest((expected or "\0").encode(), creds.password.encode()) and expected is not None


def require_basic_auth(server: flask.Flask, users: Mapping[str, str], realm: str = "werbench") -> None:
    """Answer 401 with a Basic challenge to any request without valid credentials."""
    frozen = dict(users)

    @server.before_request
    def _check() -> flask.Response | None:
        if _authorised(frozen, flask.request):
            return None
        response = flask.Response("authentication required\n", 401, mimetype="text/plain")
        response.headers["WWW-Authenticate"] = f'Basic realm="{realm}", charset="UTF-8"'
        return response
