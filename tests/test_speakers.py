"""Speaker embeddings and clustering: the weights reader against torch's own writer, the
numpy encoder against torch's LSTM, the real encoder on espeak-ng voices, and the online
and offline clustering logic on vectors made for it."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from loquilex.audio import AudioHistory
from loquilex.bench._speech import speak
from loquilex.errors import ModelError
from loquilex.speakers import (
    ClusterSettings,
    Diarizer,
    OnlineSpeakers,
    VoiceEncoder,
    cluster_offline,
    encoder_weights_path,
    speaker_name,
)
from loquilex.speakers._encoder import _mel_filters
from loquilex.speakers._weights import read_legacy_checkpoint

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def encoder() -> VoiceEncoder:
    return VoiceEncoder()


def test_the_voice_encoder_weights_are_installed() -> None:
    path = encoder_weights_path()
    assert path is not None and path.name == "pretrained.pt"
    assert path.stat().st_size > 10_000_000


def test_reads_a_legacy_checkpoint_exactly_as_torch_wrote_it(tmp_path: Path) -> None:
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    state = {
        "model_state": {
            "w": base,
            "transposed": base.t(),  # a strided view sharing w's storage
            "row": base[2],  # an offset view
            "ints": torch.tensor([1, -2, 3], dtype=torch.int64),
            "half": torch.tensor([0.5, 1.5], dtype=torch.float16),
            "scalar": torch.tensor(7.0),
        },
        "step": 12,
    }
    path = tmp_path / "legacy.pt"
    torch.save(state, path, _use_new_zipfile_serialization=False)
    loaded = read_legacy_checkpoint(path)
    assert loaded["step"] == 12
    for key, tensor in state["model_state"].items():
        got = loaded["model_state"][key]
        assert got.dtype == tensor.numpy().dtype, key
        np.testing.assert_array_equal(got, tensor.numpy(), err_msg=key)


def test_a_checkpoint_that_names_code_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {marker}",))

    buffer = io.BytesIO()
    for part in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}, {"model_state": Evil()}):
        pickle.dump(part, buffer, protocol=2)
    path = tmp_path / "evil.pt"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ModelError, match="which is not read"):
        read_legacy_checkpoint(path)
    assert not marker.exists()


def test_a_file_that_is_not_a_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.pt"
    path.write_bytes(b"not a pickle at all")
    with pytest.raises(ModelError, match="cannot read the voice encoder weights"):
        read_legacy_checkpoint(path)
    with pytest.raises(ModelError, match="cannot read"):
        VoiceEncoder(tmp_path / "missing.pt")


def test_without_the_weights_installed_the_error_says_how_to_get_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("loquilex.speakers._encoder.encoder_weights_path", lambda: None)
    with pytest.raises(ModelError, match="resemblyzer"):
        VoiceEncoder()


def test_the_numpy_network_matches_torch_lstm(encoder: VoiceEncoder) -> None:
    state = read_legacy_checkpoint(encoder.path)["model_state"]
    lstm = torch.nn.LSTM(40, 256, 3, batch_first=True)
    linear = torch.nn.Linear(256, 256)
    with torch.no_grad():
        for name, param in lstm.named_parameters():
            param.copy_(torch.from_numpy(state[f"lstm.{name}"]))
        linear.weight.copy_(torch.from_numpy(state["linear.weight"]))
        linear.bias.copy_(torch.from_numpy(state["linear.bias"]))
        mels = np.random.default_rng(0).random((3, 160, 40), dtype=np.float32) * 4
        _, (hidden, _) = lstm(torch.from_numpy(mels))
        raw = torch.relu(linear(hidden[-1]))
        expected = (raw / raw.norm(dim=1, keepdim=True)).numpy()
    np.testing.assert_allclose(encoder._network(mels), expected, atol=2e-5)


def test_mel_filters_put_a_tone_in_its_band(encoder: VoiceEncoder) -> None:
    filters = _mel_filters()
    assert filters.shape == (40, 201)
    t = np.arange(16000) / 16000
    for hz in (300.0, 1000.0, 3000.0):
        mel = encoder.mel(np.sin(2 * np.pi * hz * t).astype(np.float32))
        band = int(np.argmax(mel[50]))
        peak_hz = float(np.argmax(filters[band])) * 8000 / 200
        assert abs(peak_hz - hz) / hz < 0.15, (hz, peak_hz)


def test_the_encoder_tells_espeak_voices_apart(encoder: VoiceEncoder) -> None:
    sentences = [
        "Please send me the report before Friday.",
        "I think we should move the launch to next month.",
        "Can you check the crash logs from the weekend?",
    ]
    a = [encoder.embed(speak(s, voice="en-us+f4", rate=170)).vector for s in sentences]
    b = [encoder.embed(speak(s, voice="en-us+m7", rate=165)).vector for s in sentences]
    same = [float(a[i] @ a[j]) for i in range(3) for j in range(i)]
    same += [float(b[i] @ b[j]) for i in range(3) for j in range(i)]
    different = [float(x @ y) for x in a for y in b]
    assert min(same) > ClusterSettings().threshold > max(different)
    for v in a + b:
        assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-4


def test_embedding_windows_cover_long_and_short_audio(encoder: VoiceEncoder) -> None:
    long = encoder.embed(np.random.default_rng(1).standard_normal(16000 * 6).astype(np.float32))
    assert len(long.windows) == len(long.centres) >= 4
    assert long.centres[0] < 1.0 and long.centres[-1] > 5.0
    short = encoder.embed(np.zeros(4000, np.float32))
    assert len(short.windows) == 1 and short.speech_s == 0.25
    with pytest.raises(ValueError):
        encoder.embed(np.zeros(0, np.float32))


def _unit(*values: float) -> np.ndarray:
    v = np.zeros(256, np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


def test_online_speakers_open_join_and_stay_bounded() -> None:
    speakers = OnlineSpeakers(ClusterSettings(threshold=0.8, max_speakers=2))
    a, b, c = _unit(1, 0, 0), _unit(0, 1, 0), _unit(0, 0, 1)
    first = speakers.assign(a, 2.0)
    assert (first.speaker, first.new) == (0, True)
    assert speakers.assign(_unit(1, 0.1, 0), 2.0).speaker == 0
    second = speakers.assign(b, 2.0)
    assert (second.speaker, second.new) == (1, True)
    # The cap: a third voice joins the nearest instead of opening a speaker.
    third = speakers.assign(c + 0.3 * a, 2.0)
    assert not third.new and speakers.count == 2


def test_a_short_final_never_opens_a_speaker_and_leans_on_the_last() -> None:
    speakers = OnlineSpeakers(ClusterSettings(threshold=0.8, min_speech_s=1.0))
    speakers.assign(_unit(1, 0, 0), 2.0)
    speakers.assign(_unit(0, 1, 0), 2.0)
    short = speakers.assign(_unit(0.3, 0.3, 1), 0.4)  # like nobody, and too short to tell
    assert (short.speaker, short.new) == (1, False)
    assert speakers.count == 2


def test_centroids_adapt_to_a_drifting_voice() -> None:
    speakers = OnlineSpeakers(ClusterSettings(threshold=0.8))
    speakers.assign(_unit(1, 0, 0), 2.0)
    # Small steps away from where it started: each joins, and the centroid follows.
    for step in range(1, 12):
        angle = step * 0.08
        assert speakers.assign(_unit(np.cos(angle), np.sin(angle), 0), 3.0).speaker == 0
    assert speakers.count == 1
    assert float(speakers.similarities(_unit(np.cos(0.88), np.sin(0.88), 0))[0]) > 0.8


def test_offline_clustering_numbers_speakers_in_order_of_appearance() -> None:
    b, a = _unit(0, 1, 0), _unit(1, 0, 0)
    vectors = [b, _unit(0.1, 1, 0), a, _unit(1, 0.1, 0), b, _unit(1, 0.05, 0)]
    assert cluster_offline(vectors, [2.0] * 6) == [0, 0, 1, 1, 0, 1]
    # A short one goes to the nearest cluster; it never makes its own.
    labels = cluster_offline([*vectors, _unit(0, 0, 1)], [2.0] * 6 + [0.3])
    assert labels[:6] == [0, 0, 1, 1, 0, 1] and labels[6] in (0, 1)
    assert cluster_offline([], []) == []


def test_speaker_names() -> None:
    assert speaker_name("spk-0") == "Speaker 1"
    assert speaker_name("spk-11") == "Speaker 12"
    assert speaker_name("alice") == "alice"


def test_audio_history_returns_exact_samples_and_forgets_old_audio() -> None:
    history = AudioHistory(keep_s=1.0)
    ramp = np.arange(16000 * 3, dtype=np.float32)
    for start in range(0, len(ramp), 320):
        history.append(ramp[start : start + 320])
    np.testing.assert_array_equal(history.between(2.5, 2.75), ramp[40000:44000])
    assert history.between(0.0, 1.0).size == 0  # forgotten
    assert history.between(2.9, 5.0).size == 1600  # up to what has arrived
    assert history.duration_s == 3.0


def test_a_voice_change_inside_one_final_is_found_where_it_happens(encoder: VoiceEncoder) -> None:
    from loquilex.speakers import Diarizer

    first = speak("Please send me the report before Friday morning.", voice="en-us+f4")
    second = speak("I will send it to you tomorrow, no problem.", voice="en-us+m7")
    diarizer = Diarizer(encoder)
    # Both voices are known from earlier finals...
    assert diarizer.attribute(speak("Good morning everyone, let's begin.", voice="en-us+f4"))
    known = diarizer.attribute(speak("Thanks, the numbers look good.", voice="en-us+m7"))
    assert known is not None and known.speaker_id == "spk-1"
    # ...then one final holds the end of one and the start of the other, without a pause.
    both = np.concatenate([first, second])
    got = diarizer.attribute(both)
    assert got is not None and got.change_at_s is not None, got
    assert (got.speaker_id, got.speaker_after) == ("spk-0", "spk-1")
    assert abs(got.change_at_s - len(first) / 16000) < 0.7
    # One voice throughout is never split.
    same = diarizer.attribute(np.concatenate([first, first]))
    assert same is not None and same.change_at_s is None and same.speaker_id == "spk-0"


def test_a_voice_heard_for_the_first_time_inside_a_final_is_split_off(
    encoder: VoiceEncoder,
) -> None:
    from loquilex.speakers import Diarizer

    first = speak("Please send me the report before Friday morning.", voice="en-us+f4")
    second = speak("I will send it to you tomorrow, no problem at all.", voice="en-us+m7")
    diarizer = Diarizer(encoder)
    # Only the first voice is known when a final holds its end and the other's first words.
    assert diarizer.attribute(speak("Good morning everyone, let's begin.", voice="en-us+f4"))
    got = diarizer.attribute(np.concatenate([first, second]))
    assert got is not None and got.change_at_s is not None, got
    assert (got.speaker_id, got.speaker_after) == ("spk-0", "spk-1")
    assert abs(got.change_at_s - len(first) / 16000) < 0.7
    assert diarizer.speakers.count == 2
    # The new voice is now known: its next final is attributed to it, unsplit.
    again = diarizer.attribute(speak("The numbers look good to me, thanks.", voice="en-us+m7"))
    assert again is not None and (again.speaker_id, again.change_at_s) == ("spk-1", None)
    # One voice throughout, long as it is, never opens a speaker inside a final.
    alone = Diarizer(encoder)
    alone.attribute(first)
    same = alone.attribute(np.concatenate([first, first, first]))
    assert same is not None and same.change_at_s is None and alone.speakers.count == 1


def test_without_the_encoder_diarize_defaults_off_and_asking_for_it_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from loquilex.errors import UnsupportedError
    from loquilex.speakers import encoder_for

    monkeypatch.setattr("loquilex.speakers._encoder.shared_encoder", lambda: None)
    assert encoder_for(None, True) is None  # the default quietly stays off
    assert encoder_for(False, True) is None
    with pytest.raises(UnsupportedError, match="resemblyzer"):
        encoder_for(True, True)


def test_a_short_interjection_goes_to_the_known_voice_it_is_clearly_like() -> None:
    """A one-word reply by someone who spoke before ("Good.") is theirs, though too short
    to open a speaker or move a centroid; one about as like the last speaker stays there."""
    speakers = OnlineSpeakers(ClusterSettings(threshold=0.8, min_speech_s=1.0))
    speakers.assign(_unit(1, 0, 0), 2.0)  # spk-0
    speakers.assign(_unit(0, 1, 0), 2.0)  # spk-1 speaks last
    before = speakers.centroid(0).copy()
    reply = speakers.assign(_unit(0.75, 0.35, 0.56), 0.4)  # 0.75 like spk-0, 0.35 like spk-1
    assert (reply.speaker, reply.new) == (0, False)
    assert np.allclose(speakers.centroid(0), before), "a short stretch moved a centroid"
    unsure = speakers.assign(_unit(0.62, 0.6, 0.5), 0.4)  # about as like both
    assert unsure.speaker == 0  # the last speaker is now spk-0: the turn goes on
    faint = speakers.assign(_unit(0.1, 0.45, 0.89), 0.4)  # like nobody enough
    assert faint.speaker == 0 and speakers.count == 2


def test_a_voice_of_another_pitch_is_another_speaker_though_the_encoder_hears_one() -> None:
    """The encoder may hear two voices as one (0.8 alike, over the 0.72 threshold); an
    octave apart they are not one person. Without a pitch (whispering), with the cue off,
    or for a voice the encoder finds very alike (a pitch tracker an octave off on a hoarse
    voice), the embedding decides."""
    low, high = _unit(1, 0, 0), _unit(1, 0.75, 0)  # 0.80 alike
    between = _unit(1, 0.33, 0.6)  # 0.82 like each

    def two_voices() -> OnlineSpeakers:
        speakers = OnlineSpeakers()
        assert speakers.assign(low, 2.0, 105.0).speaker == 0
        second = speakers.assign(high, 2.0, 200.0)
        assert (second.speaker, second.new) == (1, True)
        return speakers

    assert two_voices().assign(between, 2.0, 110.0).speaker == 0
    assert two_voices().assign(between, 2.0, 195.0).speaker == 1
    assert two_voices().assign(low, 2.0, None).speaker == 0  # no pitch: the likelier voice
    # A partial's tentative speaker is judged the same way, and changes nothing.
    speakers = two_voices()
    assert speakers.nearest(between, 110.0) == 0 and speakers.nearest(between, 195.0) == 1
    assert speakers.nearest(between, None) == 1  # the last speaker, favoured by continuity
    assert speakers.count == 2 and speakers.last == 1
    # A short reply is too short to open anyone; in the other voice's pitch it is theirs.
    assert speakers.assign(between, 0.4, 100.0).speaker == 0
    assert speakers.assign(between, 0.4, 205.0).speaker == 1
    assert speakers.assign(between, 0.4, 100.0).speaker == 0
    # One person's sentences stay within a few semitones of their pitch: one speaker.
    steady = OnlineSpeakers()
    steady.assign(low, 2.0, 100.0)
    assert {steady.assign(high, 2.0, hz).speaker for hz in (118, 92, 125, 104)} == {0}
    # An octave off on a voice the encoder finds very alike (0.98): still theirs.
    steady.assign(_unit(1, 0.2, 0), 2.0, 210.0)
    assert steady.count == 1
    for off in (OnlineSpeakers(ClusterSettings(pitch_gap_st=0)), OnlineSpeakers()):
        pitched = off.settings.pitch_gap_st == 0
        off.assign(low, 2.0, 105.0 if pitched else None)
        assert off.assign(high, 2.0, 200.0 if pitched else None).speaker == 0
    # Everyone of another pitch and no room for another speaker: the nearest, as before.
    full = OnlineSpeakers(ClusterSettings(max_speakers=1))
    full.assign(low, 2.0, 105.0)
    assert full.assign(high, 2.0, 200.0).speaker == 0 and full.count == 1


def test_offline_clustering_keeps_voices_of_another_pitch_apart() -> None:
    low, high = _unit(1, 0, 0), _unit(1, 0.75, 0)  # 0.80 alike: one cluster by voice alone
    vectors = [low, high, low, high, high]
    assert cluster_offline(vectors, [2.0] * 5) == [0] * 5
    pitches = [100.0, 210.0, 104.0, 200.0, 205.0]
    assert cluster_offline(vectors, [2.0] * 5, pitches_hz=pitches) == [0, 1, 0, 1, 1]
    # A short stretch goes to the nearest cluster of its own pitch.
    between = _unit(1, 0.33, 0.6)
    labels = cluster_offline([*vectors, between], [2.0] * 5 + [0.3], pitches_hz=[*pitches, 198.0])
    assert labels == [0, 1, 0, 1, 1, 1]
    # More clusters than max_speakers allows: pitch gives way; so it does to very alike voices.
    assert (
        cluster_offline(vectors, [2.0] * 5, ClusterSettings(max_speakers=1), pitches_hz=pitches)
        == [0] * 5
    )
    alike = [low, _unit(1, 0.2, 0), low, _unit(1, 0.2, 0)]  # 0.98
    assert cluster_offline(alike, [2.0] * 4, pitches_hz=pitches[:4]) == [0] * 4


def test_a_high_and_a_low_voice_the_encoder_confuses_are_told_apart(
    encoder: VoiceEncoder,
) -> None:
    """The held-out stand-up's voices: en-gb and en-us+m5 (both ~100 Hz) and en-us+f2
    (~200 Hz), whose embeddings sit near the threshold, so the encoder alone heard one
    speaker. Each sentence is attributed live, in turn order."""
    turns = [
        ("en-gb", "We have a lot to cover, so let's keep it short."),
        ("en-us+f2", "It was quiet until Sunday night, when the billing service went down."),
        ("en-gb", "Thank you for handling that so quickly."),
        ("en-us+f2", "Yes, I can set that up this week."),
        ("en-us+m5", "I should have the migration plan ready by Thursday."),
        ("en-us+f2", "About two hundred customers, mostly in Canada."),
        ("en-gb", "Good, then let's move on to the release."),
    ]
    audio = {t: speak(t, voice=v, rate=170) for v, t in turns}

    def speakers_of(settings: ClusterSettings) -> tuple[set[str], set[str]]:
        diarizer = Diarizer(encoder, settings)
        high, low = set[str](), set[str]()
        for voice, text in turns:
            attribution = diarizer.attribute(audio[text])
            assert attribution is not None
            (high if voice == "en-us+f2" else low).add(attribution.speaker_id)
        return high, low

    high, low = speakers_of(ClusterSettings())
    assert len(high) == 1 and not high & low, (high, low)
    # Without the pitch the encoder gives the high voice and a low one the same id here.
    high, low = speakers_of(ClusterSettings(pitch_gap_st=0))
    assert high & low, "the encoder alone told these voices apart: the test proves nothing"


def test_the_pitch_gap_is_a_setting_of_live_and_offline_attribution() -> None:
    from loquilex.config import ConversationConfig, load_settings
    from loquilex.conversation import build_enricher
    from loquilex.conversation._offline import cluster_settings
    from loquilex.protocol import EventEmitter

    off = ConversationConfig(speaker_pitch_gap_st=0)
    for config, gap in ((ConversationConfig(), 6.0), (off, 0)):
        enricher = build_enricher(EventEmitter(), config, diarize=True, prosody=False)
        assert enricher is not None and enricher.diarizer is not None
        assert enricher.diarizer.speakers.settings.pitch_gap_st == gap
        assert cluster_settings(config).pitch_gap_st == gap
    settings, _ = load_settings(overrides={"conversation": {"speaker_pitch_gap_st": 4.5}})
    assert cluster_settings(settings.conversation).pitch_gap_st == 4.5
