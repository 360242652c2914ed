"""``werbench serve RESULTS`` (or ``serve FILE.jsonl...``): the dashboard on a production WSGI server
(waitress, threads), safe by default.

Binds 127.0.0.1; any other address needs ``--auth``/``--auth-file`` (HTTP Basic) or an explicit
``--insecure``, because the dashboard shows transcripts and plays audio that may be confidential.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import typer


def is_loopback(host: str) -> bool:
    """True when every address ``host`` resolves to is a loopback one (127.0.0.0/8, ::1)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def check_exposure(host: str, has_auth: bool, insecure: bool) -> None:
    """Refuse to publish an unauthenticated dashboard beyond this machine."""
    if not is_loopback(host) and not has_auth and not insecure:
        raise typer.BadParameter(
            f"{host} is reachable from other machines; give --auth user:pass or --auth-file FILE, "
            "or --insecure to serve without authentication anyway",
            param_hint="--host",
        )


def load_users(auth: str | None, auth_file: Path | None) -> dict[str, str]:
    from werbench.dashboard.auth import parse_credential, read_auth_file

    if auth and auth_file:
        raise typer.BadParameter("give either --auth or --auth-file, not both", param_hint="--auth")
    if auth_file:
        return read_auth_file(auth_file)
    if auth:
        user, password = parse_credential(auth)
        return {user: password}
    return {}


def serve(
    paths: list[Path] = typer.Argument(
        ...,
        help="A results directory (RESULTS/<testset>/<system>/predictions.jsonl), or NeMo manifests as "
        "Speech Data Explorer opens them: pred_text is a system named after the file, pred_text_<name> "
        "fields a system each, no prediction at all a dataset to explore.",
    ),
    audio_base_path: Path | None = typer.Option(
        None, help="Where relative audio paths of the manifests start (default: each manifest's folder)."
    ),
    vocab: Path | None = typer.Option(
        None, help="Word list (or ARPA LM, or manifest) whose words are in vocabulary: flags OOV words."
    ),
    keywords: list[Path] = typer.Option(
        None,
        help="Keyword list (one keyword or phrase a line): a word class with recall/precision (repeatable).",
    ),
    host: str = typer.Option("127.0.0.1", help="Address to bind; non-loopback addresses need --auth."),
    port: int = typer.Option(8050, min=1, max=65535, help="TCP port."),
    auth: str | None = typer.Option(None, help="HTTP Basic credentials 'user:password'."),
    auth_file: Path | None = typer.Option(None, help="File of 'user:password' lines (one per user)."),
    insecure: bool = typer.Option(False, help="Allow a non-loopback host without authentication."),
    normalize: str | None = typer.Option(
        None,
        help="Default text mode (none, sclite, nemo, librispeech, whisper, wsj, wsj-novp; default: the one "
        "the runs recorded, else none); switchable in the UI.",
    ),
    threads: int = typer.Option(8, min=1, max=64, help="Worker threads (concurrent requests)."),
    estimate_audio_metrics: bool = typer.Option(
        False,
        "--estimate-audio-metrics",
        "-a",
        help="SDE's -a: measure every utterance's bandwidth, peak level and SNR in the background once "
        "serving starts (pages answer meanwhile; results are cached for the next serve).",
    ),
) -> None:
    """Serve the dashboard for a results directory or NeMo manifests (werbench serve FILE.jsonl ...)."""
    from werbench.manifests.normalize import get_normalizer

    normalize = get_normalizer(normalize).name if normalize else None
    users = load_users(auth, auth_file)
    check_exposure(host, bool(users), insecure)
    from werbench.dashboard.app import create_app
    from werbench.dashboard.security import LOOPBACK_NAMES  # with Flask: not for every other command
    from werbench.dashboard.workspace import Source

    source = Source.of(paths, audio_base=audio_base_path, vocab=vocab, keywords=keywords or ())
    allowed = (*LOOPBACK_NAMES, host) if is_loopback(host) else None
    app = create_app(source, normalize=normalize, users=users, allowed_hosts=allowed)
    import waitress

    if estimate_audio_metrics and not app.server.config["WERBENCH_WORKSPACE"].estimate_audio_metrics():
        typer.echo("note: --estimate-audio-metrics: no audio paths to measure", err=True)

    shown = f"[{host}]" if ":" in host else host
    typer.echo(
        f"werbench dashboard on http://{shown}:{port}/  ({source.label}, {threads} threads; Ctrl+C stops)"
    )
    if not users and not is_loopback(host):
        typer.secho("warning: serving without authentication (--insecure)", fg="yellow", err=True)
    waitress.serve(app.server, host=host, port=port, threads=threads, ident="werbench")


def register(app: typer.Typer) -> None:
    """Add ``werbench serve`` to the root app."""
    app.command("serve")(serve)
