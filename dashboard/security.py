"""HTTP hardening of the dashboard: Host-header checking against DNS rebinding, and security headers.

A page on a hostile site can make a browser resolve its own name to 127.0.0.1 (DNS rebinding) and read a
loopback-only dashboard; such requests carry the hostile name in ``Host``, so a dashboard bound to loopback
answers only ``127.0.0.1``, ``localhost``, ``[::1]`` and the configured host. The Content-Security-Policy
allows scripts from the app itself plus Dash's own inline renderer script (by hash), no other inline script
and no inline event handler, so a transcript that somehow became markup still could not run script. The
exported HTML report is self-contained (inline plotly.js), so it is served sandboxed: its scripts run in an
opaque origin with no access to the dashboard.
"""

from __future__ import annotations

from collections.abc import Iterable

import flask

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
REPORT_PATH = "/export/report.html"


def host_name(header: str) -> str:
    """The host part of a ``Host`` header: ``[::1]:8050`` -> ``::1``, ``Localhost:80`` -> ``localhost``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def content_security_policy(inline_script_hashes: Iterable[str]) -> str:
    """No inline script but Dash's own (by hash); ``'unsafe-eval'`` because plotly's WebGL traces (regl)
    and AG Grid's value-formatter expressions compile functions at run time."""
    scripts = " ".join(["'self'", "'unsafe-eval'", *inline_script_hashes])
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self' 'unsafe-inline'",  # Dash components and plotly set inline styles
            "img-src 'self' data: blob:",
            "media-src 'self' blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


REPORT_POLICY = "sandbox allow-scripts allow-popups allow-downloads; frame-ancestors 'none'"


def harden(server: flask.Flask, csp: str, allowed_hosts: Iterable[str] | None) -> None:
    """Refuse other ``Host`` names when ``allowed_hosts`` is given; add security headers to every answer."""
    allowed = None if allowed_hosts is None else {host_name(h) for h in allowed_hosts}

    @server.before_request
    def _check_host() -> flask.Response | None:
        if allowed is None or host_name(flask.request.host or "") in allowed:
            return None
        return flask.Response(
            "unknown Host header (this dashboard answers only its own address)\n", 421, mimetype="text/plain"
        )

    @server.after_request
    def _headers(response: flask.Response) -> flask.Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        policy = REPORT_POLICY if flask.request.path == REPORT_PATH else csp
        headers.setdefault("Content-Security-Policy", policy)
        return response
