"""The audio route serves only manifest audio by (test set, utterance id); auth guards every route; serve is
safe by default."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf
import typer
from typer.testing import CliRunner
from werbench.dashboard.audio import audio_url
from werbench.dashboard.auth import read_auth_file
from werbench.dashboard.serve_cli import check_exposure, is_loopback
from werbench.manifests.errors import ConfigError

from werbench.cli import app as werbench_app

UTT = ("synth-clean", "synth-clean-000003")


def test_audio_answers_whole_file_and_byte_ranges(client, results_dir: Path) -> None:
    whole = client.get(audio_url(*UTT))
    assert whole.status_code == 200
    assert whole.mimetype == "audio/wav"
    assert whole.headers["Accept-Ranges"] == "bytes"
    expected = (results_dir / "audio" / UTT[0] / f"{UTT[1]}.wav").read_bytes()
    assert whole.data == expected
    assert whole.data[:4] == b"RIFF" and whole.data[8:12] == b"WAVE"
    part = client.get(audio_url(*UTT), headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(expected)}"
    assert part.data == expected[100:200]
    tail = client.get(audio_url(*UTT), headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.data == expected[-10:]


@pytest.mark.parametrize(
    "path",
    [
        "/audio/synth-clean/../../../../etc/passwd",
        "/audio/synth-clean/..%2f..%2f..%2fetc%2fpasswd",
        "/audio/synth-clean/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/audio/synth-clean//etc/passwd",
        "/audio/synth-clean/%2Fetc%2Fpasswd",
        "/audio/..%2f..%2fetc/passwd",
        "/audio/synth-clean/synth-clean-999999",
        "/audio/no-such-testset/synth-clean-000003",
        "/audio/synth-clean/synth-clean-000003.wav",
        "/audio/synth-clean",
    ],
)
def test_audio_refuses_paths_and_unknown_ids(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert b"root:" not in response.data


def test_audio_of_a_segment_is_cut_and_served_as_wav(tmp_path: Path) -> None:
    import flask
    import numpy as np
    from werbench.dashboard.audio import AudioSource, audio_response

    source_file = tmp_path / "long.flac"
    sf.write(source_file, np.linspace(-0.5, 0.5, 16000 * 3, dtype=np.float32), 16000)
    with flask.Flask(__name__).test_request_context():
        response = audio_response(AudioSource(str(source_file), offset=1.0, duration=0.5))
        response.direct_passthrough = False
        data = response.get_data()
    assert response.mimetype == "audio/wav"
    samples, rate = sf.read(__import__("io").BytesIO(data))
    assert rate == 16000 and len(samples) == 8000


def test_basic_auth_guards_pages_callbacks_audio_and_exports(results_dir: Path, tmp_path: Path) -> None:
    from werbench.dashboard.app import create_app

    app = create_app(results_dir, users={"ana": "s3cret:pw"}, cache_dir=tmp_path / "cache")
    client = app.server.test_client()
    for path in ("/", "/_dash-layout", audio_url(*UTT), "/export/systems.csv", "/assets/werbench.js"):
        denied = client.get(path)
        assert denied.status_code == 401, path
        assert denied.headers["WWW-Authenticate"].startswith("Basic")
    assert client.get("/", auth=("ana", "wrong")).status_code == 401
    assert client.get("/", auth=("bob", "s3cret:pw")).status_code == 401
    assert client.get("/", auth=("ana", "s3cret:pw")).status_code == 200
    assert client.get(audio_url(*UTT), auth=("ana", "s3cret:pw")).status_code == 200


def test_auth_file_parsing(tmp_path: Path) -> None:
    good = tmp_path / "users"
    good.write_text("# team\nana:pw1\n\nbob:pw:with:colons\n", encoding="utf-8")
    assert read_auth_file(good) == {"ana": "pw1", "bob": "pw:with:colons"}
    bad = tmp_path / "bad"
    bad.write_text("ana:pw\nnocolon\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad:2: auth: expected 'user:password'"):
        read_auth_file(bad)


def test_only_loopback_may_be_served_without_auth() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.10")
    check_exposure("127.0.0.1", has_auth=False, insecure=False)
    check_exposure("0.0.0.0", has_auth=True, insecure=False)
    check_exposure("0.0.0.0", has_auth=False, insecure=True)
    with pytest.raises(typer.BadParameter, match="--auth"):
        check_exposure("0.0.0.0", has_auth=False, insecure=False)


def test_serve_command_refuses_public_host_without_auth(results_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    refused = runner.invoke(werbench_app, ["serve", str(results_dir), "--host", "0.0.0.0"])
    assert refused.exit_code == 2
    assert "--auth" in refused.output
    both = runner.invoke(werbench_app, ["serve", str(results_dir), "--auth", "a:b", "--auth-file", "x"])
    assert both.exit_code == 2
    missing = runner.invoke(werbench_app, ["serve", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1  # bad input: 1, as every command; usage errors: 2
    assert "results directory not found" in missing.output
    assert "Traceback" not in missing.output


def test_host_header_and_security_headers(results_dir: Path, tmp_path: Path) -> None:
    """DNS rebinding: a loopback dashboard answers only its own names; every answer carries the headers."""
    from werbench.dashboard.app import create_app

    app = create_app(
        results_dir, cache_dir=tmp_path / "cache", allowed_hosts=("127.0.0.1", "localhost", "::1")
    )
    client = app.server.test_client()
    for host in ("127.0.0.1:8050", "localhost", "LOCALHOST:80", "[::1]:8050"):
        assert client.get("/", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example", "evil.example:8050", "127.0.0.1.evil.example"):
        assert client.get("/", headers={"Host": host}).status_code == 421, host
    page = client.get("/", headers={"Host": "127.0.0.1"})
    policy = page.headers["Content-Security-Policy"]
    scripts = next(part for part in policy.split("; ") if part.startswith("script-src"))
    assert "'unsafe-inline'" not in scripts and "frame-ancestors 'none'" in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff" and page.headers["X-Frame-Options"] == "DENY"
    report = client.get("/export/report.html", headers={"Host": "127.0.0.1"})
    assert report.headers["Content-Security-Policy"].startswith("sandbox allow-scripts")
