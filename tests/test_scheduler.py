"""DecodeScheduler: every stream gets turns, a busy one cannot starve the others."""

from __future__ import annotations

import threading
import time

import numpy as np

from loquilex.asr import DecodeScheduler, StreamConfig, StreamingASR
from tests.fakes import EnergyVad, ScriptedEngine, silence, speak_script


def test_round_robin_keeps_a_quiet_stream_served() -> None:
    """A stream that always has more work (fed continuously, slow decodes) must not keep the
    worker: the quiet stream's utterance is finished within a few turns."""
    vocab: list[str] = []
    busy_audio = speak_script(["a"] * 200, vocab)
    quiet_audio = np.concatenate([speak_script(["hi", "there."], vocab), silence(0.6)])
    engine = ScriptedEngine(vocab, on_decode=lambda _: time.sleep(0.005))
    config = StreamConfig(decode_interval_s=0.05, max_backlog_s=100)
    busy = StreamingASR(engine, config, vad=EnergyVad())
    quiet = StreamingASR(engine, config, vad=EnergyVad())
    turns: list[str] = []
    quiet_done = threading.Event()
    stop = threading.Event()

    def record(name: str):  # type: ignore[no-untyped-def]
        def cb(events: list[object], closed: bool) -> None:
            turns.append(name)
            if name == "quiet" and closed:
                quiet_done.set()

        return cb

    scheduler = DecodeScheduler()
    hb = scheduler.register(busy, record("busy"), lambda e: None, "busy")
    hq = scheduler.register(quiet, record("quiet"), lambda e: None, "quiet")

    def feed_busy() -> None:
        for i in range(0, len(busy_audio), 320):
            if stop.is_set():
                return
            busy.feed(busy_audio[i : i + 320])
            scheduler.notify(hb)
            time.sleep(0.001)

    feeder = threading.Thread(target=feed_busy)
    try:
        feeder.start()
        time.sleep(0.2)  # the busy stream is now hogging work
        quiet.feed(quiet_audio)
        quiet.end()
        busy_turns_at_notify = turns.count("busy")
        scheduler.notify(hq)
        assert quiet_done.wait(10)
    finally:
        stop.set()
        feeder.join()
        scheduler.close()
    assert busy_turns_at_notify >= 3  # the busy stream really was taking turn after turn
    # Round robin: the quiet stream waited for at most the one busy turn in progress.
    busy_turns_before_quiet = turns[: turns.index("quiet")].count("busy")
    assert busy_turns_before_quiet <= busy_turns_at_notify + 1
    assert quiet.stats.finals == 1


def test_worker_error_is_reported_not_swallowed() -> None:
    vocab: list[str] = []

    def explode(_: object) -> None:
        raise RuntimeError("model crashed")

    asr = StreamingASR(ScriptedEngine(vocab, on_decode=explode), StreamConfig(), vad=EnergyVad())
    errors: list[BaseException] = []
    got = threading.Event()
    scheduler = DecodeScheduler()
    try:
        handle = scheduler.register(
            asr, lambda ev, c: None, lambda e: (errors.append(e), got.set()), "x"
        )
        asr.feed(np.concatenate([speak_script(["boom"], vocab), silence(1.0)]))
        scheduler.notify(handle)
        assert got.wait(5)
    finally:
        scheduler.close()
    assert isinstance(errors[0], RuntimeError)
