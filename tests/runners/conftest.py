"""Session fixtures for runner tests: a real tiny NeMo ``.nemo`` and espeak-ng speech, built once per session.

NeMo takes ~15 s to import, so the model file and its loaded adapter are shared by every test here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from werbench.manifests.io import load_manifest, write_manifest


@pytest.fixture(scope="session")
def torch_threads():
    """Two shared cores: one intra-op thread is far faster than two fighting other processes."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_nemo(tmp_path_factory, torch_threads) -> Path:
    """A QuartzNet-style EncDecCTCModel (~100k parameters, characters, random weights) saved as ``.nemo``."""
    from werbench.runners.tiny import save_tiny_nemo

    return save_tiny_nemo(tmp_path_factory.mktemp("model") / "tiny.nemo")


@pytest.fixture(scope="session")
def tiny_model(tiny_nemo):
    """The tiny model loaded through the NeMo adapter (CPU, fp32)."""
    from werbench.runners.models.nemo import NemoCTCModel

    return NemoCTCModel(tiny_nemo, device="cpu", precision="fp32")


@pytest.fixture(scope="session")
def speech_manifest(tmp_path_factory) -> Path:
    """Four short espeak-ng utterances at 16 kHz and their NeMo manifest."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    from werbench.runners.tiny import synthesize_manifest

    return synthesize_manifest(tmp_path_factory.mktemp("speech"))


@pytest.fixture()
def manifest_copy(tmp_path, speech_manifest) -> Path:
    """A per-test manifest over the shared audio that tests may extend with bad entries."""
    path = tmp_path / "test.jsonl"
    write_manifest(path, load_manifest(speech_manifest))
    return path


@pytest.fixture(scope="session")
def s3_server():
    """A real S3 API (moto's server) on 127.0.0.1 with one bucket; the AWS variables point s3fs at it in this
    process and in every process started after it (Ray workers included). -> ``s3://werbench``."""
    import os

    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    before = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    import fsspec

    fsspec.filesystem("s3").mkdir("werbench")
    yield "s3://werbench"
    server.stop()
    for key, value in before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
