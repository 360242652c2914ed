"""runners.audio's resource guard: the decodable span is checked from the header before samples are read."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from werbench.runners import audio as runner_audio
from werbench.runners.audio import LONGER_NOTE, AudioError, load_audio


@pytest.fixture()
def twelve_seconds(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, np.zeros(12 * 8000, dtype=np.int16), 8000)
    return path


def test_a_span_over_the_limit_is_refused_before_reading(twelve_seconds, monkeypatch) -> None:
    monkeypatch.setattr(runner_audio, "MAX_AUDIO_SECONDS", 10)
    read = []
    monkeypatch.setattr(runner_audio, "read_samples", lambda *a, **k: read.append(a))
    with pytest.raises(AudioError, match=r"12 s of audio to decode, over the limit of 10 s.*segments"):
        load_audio(twelve_seconds, 16000)  # no manifest duration: the whole file
    with pytest.raises(AudioError, match="over the limit"):
        load_audio(twelve_seconds, 16000, offset=0.5, duration=11.0)
    assert read == []


def test_a_file_far_longer_than_its_manifest_duration_is_decoded_for_the_duration_with_a_note(
    twelve_seconds, monkeypatch
) -> None:
    monkeypatch.setattr(runner_audio, "MAX_AUDIO_SECONDS", 10)
    audio = load_audio(twelve_seconds, 16000, duration=2.0)
    assert audio.seconds == pytest.approx(2.0) and LONGER_NOTE in audio.notes
    assert LONGER_NOTE not in load_audio(twelve_seconds, 16000, duration=9.0).notes  # within 1.5 x + 1 s
    assert LONGER_NOTE not in load_audio(twelve_seconds, 16000, offset=4.0, duration=2.0).notes  # a segment
