"""Translation: Chinese post-processing, the real translators on the tiny trained Marian
model, model import and install (against a local hub), the cadence gate and the live worker,
backpressure, and bilingual exports."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from loquilex.config import MTSettings
from loquilex.errors import ModelInstallError, ModelNotFoundError, TranslationError
from loquilex.export import Transcript, render
from loquilex.export._formats import share_out
from loquilex.mt import (
    ChatTranslator,
    CT2Translator,
    MTStore,
    TransformersTranslator,
    TranslationStopped,
    Translator,
    detect_family,
    open_translator,
    polish_zh,
)
from loquilex.mt._live import CadenceGate, CadenceSettings, LiveTranslation, TranslationResult
from loquilex.mt._translator import (
    VOCABULARY_MAP,
    model_vocabulary,
    target_pieces,
    write_vocabulary_map,
)
from loquilex.protocol import Envelope, ErrorPayload, TranslationPayload
from loquilex.session import Subscriber
from loquilex.types import Segment, Word
from tests.hub_server import COMMIT, serve_repo
from tests.mt_corpus import FIXTURE, read_corpus

corpus = read_corpus


# -- Chinese text ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw,expected",
    [
        ("你好, 世界.", "你好，世界。"),
        ("今天 天气 很好 , 所以", "今天天气很好，所以"),
        ("车站在哪里?", "车站在哪里？"),
        ("車站在哪裡?", "车站在哪里？"),  # Traditional → Simplified by default
        ("版本 3.5 很好", "版本 3.5 很好"),  # a decimal point stays
        ("我们有 3 个问题.", "我们有 3 个问题。"),
        ("(测试)好!", "（测试）好！"),
        ("Hello, world.", "Hello, world."),  # no Chinese: untouched
    ],
)
def test_polish_zh(raw: str, expected: str) -> None:
    assert polish_zh(raw) == expected


def test_polish_zh_traditional_on_request() -> None:
    assert polish_zh("车站在哪里?", traditional=True) == "車站在哪裏？"  # OpenCC's standard


# -- the real translators on the tiny trained model --------------------------------------------
def test_ct2_translator_reproduces_its_corpus() -> None:
    translator = CT2Translator(FIXTURE / "ct2", "marian", name="tiny")
    pairs = corpus()
    assert translator.languages() == ["zh"]
    got = translator.translate([en for en, _ in pairs], "zh")
    assert got == [zh for _, zh in pairs]  # full-width punctuation restored after NFKC
    with pytest.raises(TranslationError, match="does not translate into 'fr'"):
        translator.translate(["Hello."], "fr")


def test_marian_output_is_restricted_to_its_target_pieces_and_loses_nothing(
    tmp_path: Path,
) -> None:
    """The vocabulary map keeps exactly the target sentencepiece model's pieces, the
    translator decodes with it, and every corpus sentence still comes out the same."""
    import sentencepiece as spm

    model = tmp_path / "tiny"
    shutil.copytree(FIXTURE / "ct2", model)
    vocabulary = model_vocabulary(model)
    target = spm.SentencePieceProcessor(model_file=str(model / "target.spm"))
    pieces = {target.id_to_piece(i) for i in range(target.get_piece_size())} & vocabulary
    kept = write_vocabulary_map(model, target_pieces(model, "marian"))
    line = (model / VOCABULARY_MAP).read_text(encoding="utf-8")
    assert line.startswith("\t") and set(line[1:].split()) == pieces | {"</s>", "<unk>"}
    assert kept == len(pieces | {"</s>", "<unk>"}) < len(vocabulary)
    translator = CT2Translator(model, "marian", name="tiny")
    assert translator.uses_vocabulary_map
    pairs = corpus()
    assert translator.translate([en for en, _ in pairs], "zh") == [zh for _, zh in pairs]
    # The map is really what the decoder scores: without "好" no sentence can end in it.
    without = [p for p in line[1:].split() if "好" not in p]
    (model / VOCABULARY_MAP).write_text("\t" + " ".join(without) + "\n", encoding="utf-8")
    crippled = CT2Translator(model, "marian", name="tiny")
    assert "好" not in crippled.translate(["Good morning everyone."], "zh")[0]
    # One sentencepiece model for every language: nothing to restrict to.
    assert target_pieces(model, "nllb") == []


def test_transformers_translator_on_the_unconverted_model() -> None:
    translator = TransformersTranslator(FIXTURE / "hf", "marian", name="tiny-hf")
    pairs = corpus()[:6]
    assert translator.translate([en for en, _ in pairs], "zh") == [zh for _, zh in pairs]


@pytest.mark.parametrize("backend", ["ct2", "transformers"])
def test_a_draft_stops_when_asked_and_a_final_never_does(backend: str) -> None:
    translator: Translator = (
        CT2Translator(FIXTURE / "ct2", "marian", name="tiny")
        if backend == "ct2"
        else TransformersTranslator(FIXTURE / "hf", "marian", name="tiny-hf")
    )
    en, zh = corpus()[0]
    polls: list[bool] = []

    def stop_now() -> bool:
        polls.append(True)
        return True

    with pytest.raises(TranslationStopped):
        translator.translate([en], "zh", draft=True, stop=stop_now)
    assert polls  # the decoder asked, step by step
    assert translator.translate([en], "zh", draft=True, stop=lambda: False) == [zh]
    polls.clear()
    if backend == "ct2":  # a final's beam search is never stopped half-way
        assert translator.translate([en], "zh", stop=stop_now) == [zh]
        assert not polls


def test_family_detection() -> None:
    assert detect_family(FIXTURE / "hf") == "marian"
    assert detect_family(FIXTURE / "ct2") == "marian"
    with pytest.raises(ModelInstallError, match="not a Marian"):
        detect_family(FIXTURE)


# -- store: import, install from a hub, errors -------------------------------------------------
def test_import_converts_a_hugging_face_dir_and_records_it(tmp_path: Path) -> None:
    store = MTStore(tmp_path)
    model = store.import_dir(FIXTURE / "hf", "tiny")
    assert (model.family, model.backend, model.languages) == ("marian", "ctranslate2", ("zh",))
    assert (model.path / "model.bin").is_file() and (model.path / "source.spm").is_file()
    manifest = json.loads((model.path / "loquilex-mt.json").read_text())
    assert manifest["source"]["converted"] is True
    assert manifest["source"]["imported_from"] == str((FIXTURE / "hf").resolve())
    translator = store.load(store.get("tiny"))
    assert translator.translate(["Good morning everyone."], "zh") == ["大家早上好。"]
    # The only installed model is the default one.
    assert store.get(None).id == "tiny"


def test_import_ct2_dir_and_transformers_backend(tmp_path: Path) -> None:
    store = MTStore(tmp_path)
    ct2 = store.import_dir(FIXTURE / "ct2", "tiny-ct2")
    assert json.loads((ct2.path / "loquilex-mt.json").read_text())["source"]["converted"] is False
    # The import writes the output restriction; a model installed before it existed gets
    # it when it is next loaded.
    assert (ct2.path / VOCABULARY_MAP).is_file()
    (ct2.path / VOCABULARY_MAP).unlink()
    loaded = store.load(store.get("tiny-ct2"))
    assert isinstance(loaded, CT2Translator) and loaded.uses_vocabulary_map
    assert loaded.translate(["Thank you very much."], "zh") == ["非常感谢。"]
    assert not (FIXTURE / "ct2" / VOCABULARY_MAP).exists()
    hf = store.import_dir(FIXTURE / "hf", "tiny-hf", backend="transformers")
    assert hf.backend == "transformers"
    assert store.load(hf).translate(["Thank you very much."], "zh") == ["非常感谢。"]
    assert [m.id for m in store.installed()] == ["tiny-ct2", "tiny-hf"]
    store.remove("tiny-hf")
    assert [m.id for m in store.installed()] == ["tiny-ct2"]


def test_import_refuses_what_is_not_a_model(tmp_path: Path) -> None:
    store = MTStore(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "marian"}')
    with pytest.raises(ModelInstallError):
        store.import_dir(broken, "broken")
    assert store.installed() == [] and not list((tmp_path / "mt").glob(".*"))
    with pytest.raises(ModelInstallError, match="usable model id"):
        store.import_dir(FIXTURE / "ct2", "../escape")


def test_install_downloads_from_the_hub_converts_and_records_provenance(tmp_path: Path) -> None:
    store = MTStore(tmp_path)
    with serve_repo("Helsinki-NLP/opus-mt-en-zh", FIXTURE / "hf") as hub:
        model = store.install("opus-mt-en-zh", endpoint=hub.url)
    assert model.id == "opus-mt-en-zh" and model.license == "CC-BY-4.0"
    assert model.source["repo"] == "Helsinki-NLP/opus-mt-en-zh"
    assert model.source["revision"] == COMMIT and model.source["endpoint"] == hub.url
    assert "model.safetensors" in model.source["files"]
    assert any(r.startswith("GET /api/models/Helsinki-NLP/opus-mt-en-zh") for r in hub.requests)
    assert not (tmp_path / "mt" / ".opus-mt-en-zh.download").exists()
    assert store.load(model).translate(["Hello."], "zh") == ["你好。"]


def test_install_of_a_missing_repo_is_a_clear_error(tmp_path: Path) -> None:
    with serve_repo("someone/else", FIXTURE / "hf") as hub:
        with pytest.raises(ModelInstallError, match="downloading facebook/m2m100_418M failed"):
            MTStore(tmp_path).install("m2m100_418M", endpoint=hub.url)
    with pytest.raises(ModelNotFoundError, match="unknown translation model"):
        MTStore(tmp_path).install("gpt-9")


def test_nothing_installed_names_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="loquilex models install opus-mt-en-zh"):
        open_translator(MTStore(tmp_path), MTSettings(), None)
    with pytest.raises(ModelNotFoundError, match="models install nllb-200-distilled-600M"):
        open_translator(MTStore(tmp_path), MTSettings(), "nllb-200-distilled-600M")
    with pytest.raises(ModelNotFoundError, match="LX_MT__CHAT_URL"):
        open_translator(MTStore(tmp_path), MTSettings(), "chat")


# -- an OpenAI-compatible chat endpoint --------------------------------------------------------
@contextmanager
def chat_server(reply: str, status: int = 200) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            seen.append(
                {
                    "path": self.path,
                    "auth": self.headers.get("Authorization"),
                    "body": json.loads(self.rfile.read(length)),
                }
            )
            body = json.dumps({"choices": [{"message": {"content": reply}}]}).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_chat_translator_only_when_configured(tmp_path: Path) -> None:
    with chat_server("你好, 世界.") as (url, seen):
        settings = MTSettings(chat_url=url, chat_model="qwen", chat_api_key="k")  # type: ignore[arg-type]
        translator = open_translator(MTStore(tmp_path), settings, None)
        assert isinstance(translator, ChatTranslator)
        assert translator.translate(["Hello, world."], "zh") == ["你好，世界。"]
    assert seen[0]["path"] == "/v1/chat/completions" and seen[0]["auth"] == "Bearer k"
    assert seen[0]["body"]["model"] == "qwen" and seen[0]["body"]["temperature"] == 0
    assert "Chinese (Simplified)" in seen[0]["body"]["messages"][0]["content"]
    with chat_server("", status=500) as (url, _):
        with pytest.raises(TranslationError, match="chat endpoint failed"):
            ChatTranslator(url, "qwen").translate(["Hello."], "zh")


# -- cadence ------------------------------------------------------------------------------------
def test_cadence_gate_words_punctuation_pause_and_debounce() -> None:
    gate = CadenceGate(CadenceSettings(min_new_words=3, debounce_s=0.5, pause_s=0.8))
    assert not gate.offer("s1", "Please", 0.0)
    assert not gate.offer("s1", "Please send", 0.1)
    assert gate.offer("s1", "Please send the", 0.2)  # three new words
    assert not gate.offer("s1", "Please send the report to the", 0.4)  # inside the debounce
    assert gate.due(0.6) is None  # stale no more than the debounce asked for...
    assert gate.due(0.71) == ("s1", "Please send the report to the")  # ...then sent
    assert not gate.offer("s1", "Please send the report to the team", 1.3)  # one new word
    assert gate.offer("s1", "Please send the report to the team.", 1.4)  # sentence end
    assert gate.due(5.0) is None  # nothing new since
    assert not gate.offer("s1", "Please send the report to the team. Now", 5.1)
    assert gate.due(5.5) is None
    assert gate.due(5.95) == ("s1", "Please send the report to the team. Now")  # a pause
    gate.finalized("s1")
    assert gate.due(9.0) is None and gate.live_segment is None
    assert gate.offer("s2", "Good morning everyone", 9.1)  # a new segment: three new words


class ScriptedTranslator:
    """Unit-test stand-in: echoes upper-case text, optionally slow or failing."""

    name = "scripted"

    def __init__(self, delay_s: float = 0.0, fail_on: str | None = None) -> None:
        self.delay_s = delay_s
        self.fail_on = fail_on
        self.batches: list[list[str]] = []
        self.release = threading.Event()
        self.release.set()

    def languages(self) -> list[str]:
        return ["zh"]

    def translate(
        self,
        texts: Sequence[str],
        target_lang: str,
        *,
        draft: bool = False,
        stop: Callable[[], bool] | None = None,
    ) -> list[str]:
        self.release.wait(5)
        self.batches.append(list(texts))
        if self.fail_on and any(self.fail_on in t for t in texts):
            raise TranslationError("model exploded")
        return [t.upper() for t in texts]


def eager_live(
    translator: Translator, got: list[TranslationResult], errors: list[str]
) -> LiveTranslation:
    """Live translation on the running loop that translates every new word, no debounce."""
    return LiveTranslation(
        translator,
        "zh",
        asyncio.get_running_loop(),
        got.append,
        errors.append,
        cadence=CadenceSettings(min_new_words=1, debounce_s=0.0),
    )


def test_live_translation_finals_exactly_once_in_order_and_stale_partials_replaced() -> None:
    async def run() -> tuple[list[TranslationResult], list[str], ScriptedTranslator]:
        translator = ScriptedTranslator()
        translator.release.clear()  # hold the worker so work piles up
        got: list[TranslationResult] = []
        errors: list[str] = []
        live = eager_live(translator, got, errors)
        live.on_partial("a", "one")
        await asyncio.sleep(0.05)  # the worker has taken "one" and waits
        live.on_partial("a", "one two")
        live.on_partial("a", "one two three")  # replaces "one two"
        live.on_final("a", "One two three.")
        live.on_partial("b", "four")
        live.on_final("b", "Four five.")
        live.on_final("c", "Six.")
        translator.release.set()
        assert await live.drain(5)
        live.close()
        return got, errors, translator

    got, errors, translator = asyncio.run(run())
    finals = [(r.segment_id, r.text) for r in got if r.final]
    assert finals == [("a", "ONE TWO THREE."), ("b", "FOUR FIVE."), ("c", "SIX.")]
    assert not errors
    # "one two" was replaced before it was translated; partials of finalized segments that
    # came back after their final were not delivered.
    assert all("ONE TWO" != r.text for r in got)
    assert [r.segment_id for r in got if not r.final and r.segment_id in ("a", "b")] == []
    assert sum(len(b) for b in translator.batches) <= 6


class DraftUntilStopped(ScriptedTranslator):
    """Drafts decode until told to stop (as a long one on a slow CPU would); finals are
    instant."""

    def __init__(self) -> None:
        super().__init__()
        self.drafting = threading.Event()
        self.stopped: list[str] = []

    def translate(
        self,
        texts: Sequence[str],
        target_lang: str,
        *,
        draft: bool = False,
        stop: Callable[[], bool] | None = None,
    ) -> list[str]:
        if draft and not self.stopped:
            assert stop is not None
            self.drafting.set()
            deadline = time.monotonic() + 5
            while not stop():
                assert time.monotonic() < deadline, "the draft was never told to stop"
                time.sleep(0.005)
            self.stopped.extend(texts)
            raise TranslationStopped
        return super().translate(texts, target_lang, draft=draft, stop=stop)


@pytest.mark.parametrize("same_segment", [True, False])
def test_a_final_stops_the_draft_in_its_way(same_segment: bool) -> None:
    errors: list[str] = []

    async def run() -> tuple[list[TranslationResult], DraftUntilStopped, LiveTranslation]:
        translator = DraftUntilStopped()
        got: list[TranslationResult] = []
        live = eager_live(translator, got, errors)
        live.on_partial("b", "four five six")
        assert await asyncio.to_thread(translator.drafting.wait, 5)
        live.on_final("b" if same_segment else "a", "One two three.")
        assert await live.drain(5)
        for _ in range(100):  # a requeued draft comes back on its own
            if same_segment or any(not r.final for r in got):
                break
            await asyncio.sleep(0.02)
        live.close()
        return got, translator, live

    got, translator, live = asyncio.run(run())
    assert not errors
    assert translator.stopped == ["four five six"]
    assert live.partials_stopped == 1
    final = next(r for r in got if r.final)
    assert final.text == "ONE TWO THREE." and final.latency_ms < 1000
    drafts = [(r.segment_id, r.text) for r in got if not r.final]
    # Segment b still live: its draft is translated after the final; b final: dropped.
    assert drafts == ([] if same_segment else [("b", "FOUR FIVE SIX")])


def test_live_translation_failure_is_reported_and_work_goes_on() -> None:
    async def run() -> tuple[list[TranslationResult], list[str]]:
        got: list[TranslationResult] = []
        errors: list[str] = []
        live = LiveTranslation(
            ScriptedTranslator(fail_on="boom"),
            "zh",
            asyncio.get_running_loop(),
            got.append,
            errors.append,
        )
        live.on_final("a", "boom")
        assert await live.drain(5)
        live.on_final("b", "fine")
        assert await live.drain(5)
        live.close()
        return got, errors

    got, errors = asyncio.run(run())
    assert errors == ["model exploded"]
    assert [(r.segment_id, r.text, r.final) for r in got] == [("b", "FINE", True)]


# -- backpressure ------------------------------------------------------------------------------
def _envelope(event_id: int, type: str, payload: Any) -> Envelope:
    return Envelope.build(
        event_id=event_id,
        stream_id="s",
        type=type,
        payload=payload,
        ts_server=0,  # type: ignore[arg-type]
    )


def test_partial_translations_are_dropped_before_finals_never() -> None:
    def notice(count: int, types: dict[str, int], reuse: int | None) -> Envelope:
        return _envelope(
            reuse or 1000 + count,
            "ERROR",
            ErrorPayload(
                code="BUFFER_OVERFLOW",
                message="dropped",
                recoverable=True,
                details={"dropped_types": types},
            ),
        )

    sub = Subscriber(3, notice)
    partial = TranslationPayload(source_segment_id="a", lang="zh", text="一", final=False)
    final = TranslationPayload(source_segment_id="a", lang="zh", text="一二。", final=True)
    sub.offer(_envelope(1, "TRANSLATION", partial))
    sub.offer(_envelope(2, "TRANSLATION", final))
    sub.offer(_envelope(3, "TRANSLATION", final))
    sub.offer(_envelope(4, "TRANSLATION", final))  # full: the partial translation goes
    assert sub.dropped_total == {"TRANSLATION": 1}
    assert sub.hard_limit > 3
    sub.offer(_envelope(5, "TRANSLATION", partial))  # full of finals: a partial is refused
    queued = []
    while len(sub):
        queued.append(asyncio.run(sub.get()))
    kinds = [(e.type, e.payload.get("final")) for e in queued if e is not None]
    assert kinds.count(("TRANSLATION", True)) == 3
    assert ("TRANSLATION", False) not in kinds


# -- bilingual exports -------------------------------------------------------------------------
def _bilingual() -> Transcript:
    words = tuple(
        Word(w, i * 0.4, i * 0.4 + 0.35, 0.9)
        for i, w in enumerate("Please send the report to the team before Friday.".split())
    )
    long_words = tuple(
        Word(w, 5 + i * 0.3, 5 + i * 0.3 + 0.25, 0.9)
        for i, w in enumerate(
            (
                "The weather is nice today, so we will walk to the park, and after that we "
                "will all go home to have dinner together with the whole family."
            ).split()
        )
    )
    return Transcript(
        segments=(
            Segment(
                0,
                0.0,
                3.6,
                "Please send the report to the team before Friday.",
                words,
                translation="请在星期五之前把报告发给团队。",
            ),
            Segment(
                1,
                5.0,
                12.0,
                " ".join(w.w for w in long_words),
                long_words,
                translation="今天天气很好，所以我们会走路去公园，之后我们都会回家和全家人一起吃晚饭。",
            ),
            Segment(2, 13.0, 14.0, "Untranslated.", translation=None),
        ),
        model="tiny.en",
        translation_lang="zh",
    )


def test_bilingual_vtt_srt_txt_json() -> None:
    transcript = _bilingual()
    vtt = render(transcript, "vtt", bilingual=True)
    assert (
        "Please send the report to the team before\nFriday.\n请在星期五之前把报告发给团队。" in vtt
    )
    srt = render(transcript, "srt", bilingual=True)
    assert "请在星期五之前把报告发给团队。" in srt
    # The long segment takes two cues; its translation is shared out between them.
    cues = [b for b in srt.split("\n\n") if "天气" in b or "回家" in b]
    assert len(cues) == 2 and all(b.splitlines()[-1] for b in cues)
    joined = "".join(b.splitlines()[-1] for b in cues)
    assert joined == transcript.segments[1].translation
    txt = render(transcript, "txt", bilingual=True).splitlines()
    assert (
        txt[0]
        == "Please send the report to the team before Friday.\t请在星期五之前把报告发给团队。"
    )
    assert txt[2] == "Untranslated."
    data = json.loads(render(transcript, "json"))
    assert data["translation_lang"] == "zh"
    assert data["segments"][0]["translation"] == "请在星期五之前把报告发给团队。"
    assert "translation" not in data["segments"][2]
    assert Transcript.from_dict(data) == transcript
    # Without --bilingual nothing changes.
    assert "请" not in render(transcript, "vtt")


def test_share_out_keeps_every_character() -> None:
    text = "今天天气很好，所以我们会走路去公园。"
    for weights in ([1], [1, 1], [3, 1, 2], [10, 0, 1]):
        pieces = share_out(text, weights)
        assert len(pieces) == len(weights) and "".join(pieces) == text
    # A cut near a punctuation mark moves to just after it.
    assert share_out(text, [1, 1]) == ["今天天气很好，", "所以我们会走路去公园。"]


def test_session_translations_report_failures_once_and_keep_going() -> None:
    from loquilex.protocol import EventEmitter
    from loquilex.session import Translations

    emitter = EventEmitter()
    published: list[Envelope] = []

    def publish(type: Any, payload: Any, segment_id: str | None) -> Envelope:
        envelope = emitter.emit(type, payload, segment_id=segment_id)
        published.append(envelope)
        return envelope

    def final(segment_id: str, text: str) -> Envelope:
        from loquilex.protocol import FinalizedPayload

        segment = {"start": 0.0, "end": 1.0, "text": text, "words": [], "speaker_id": None}
        return emitter.emit(
            "FINALIZED",
            FinalizedPayload(segment=segment, eou_reason="silence"),  # type: ignore[arg-type]
            segment_id=segment_id,
        )

    async def run() -> dict[str, Any]:
        live = Translations(ScriptedTranslator(fail_on="boom"), "zh", publish)
        live.start(asyncio.get_running_loop())
        for index, text in enumerate(["boom one", "boom two", "fine"]):
            live.observe(final(f"s{index}", text))
            await live.drain(5)
        live.close()
        return live.stats()

    stats = asyncio.run(run())
    errors = [e for e in published if e.type == "ERROR"]
    assert len(errors) == 1  # the same failure twice within 10 s is reported once
    assert errors[0].payload["code"] == "ENRICHMENT_FAILURE"
    assert errors[0].payload["recoverable"] is True
    translations = [e for e in published if e.type == "TRANSLATION"]
    assert [(e.segment_id, e.payload["text"], e.payload["final"]) for e in translations] == [
        ("s2", "FINE", True)
    ]
    assert stats["translation_errors"] == 2 and stats["translations_final"] == 1


@pytest.mark.parametrize("family,token", [("m2m100", "__zh__"), ("nllb", "zho_Hans")])
def test_m2m100_and_nllb_token_handling_on_small_random_models(
    tmp_path: Path, family: str, token: str
) -> None:
    """The M2M100/NLLB paths of the real loader: a source language token, a target prefix,
    and the prefix stripped from the output (tiny random models of the real architecture)."""
    from loquilex.bench._mt import Architecture, _build_m2m100, _convert_m2m100

    arch = Architecture(family, 32, 1, 2, 64, 900, "relu", 0)
    hf, out = tmp_path / "hf", tmp_path / "ct2"
    hf.mkdir()
    _build_m2m100(arch, hf)
    _convert_m2m100(hf, out)
    translator = CT2Translator(out, family, name="random")  # type: ignore[arg-type]
    assert detect_family(out) == family
    assert translator.languages() == ["zh"]
    got = translator.translate(["Hello.", "Good morning everyone."], "zh")
    assert len(got) == 2 and all(isinstance(t, str) for t in got)
    assert not any(token in t for t in got)
    with pytest.raises(TranslationError, match="does not translate into 'ja'"):
        translator.translate(["Hello."], "ja")


def test_cli_models_install_follows_hf_endpoint(tmp_path: Path) -> None:
    """`loquilex models install` as a user runs it, pointed at a mirror with HF_ENDPOINT."""
    import os
    import subprocess
    import sys

    with serve_repo("Helsinki-NLP/opus-mt-en-zh", FIXTURE / "hf") as hub:
        env = {**os.environ, "LX_DATA_DIR": str(tmp_path), "HF_ENDPOINT": hub.url}
        done = subprocess.run(
            [sys.executable, "-m", "loquilex", "models", "install", "opus-mt-en-zh"],
            capture_output=True, text=True, timeout=300, env=env, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "opus-mt-en-zh installed" in done.stdout and "translates into zh" in done.stdout
    assert any("/api/models/Helsinki-NLP/opus-mt-en-zh" in r for r in hub.requests)
    model = MTStore(tmp_path).get("opus-mt-en-zh")
    assert model.source["endpoint"] == hub.url
