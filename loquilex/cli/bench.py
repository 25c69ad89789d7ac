"""``loquilex bench synth|stream``: make the benchmark recording, measure the live engine."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loquilex.bench import SpeechClip, synthesize
from loquilex.bench._corpus import MEETING_PAUSES, MEETING_SENTENCES
from loquilex.bench._mt import (
    ARCHITECTURES,
    BENCH_LENGTH_RATIO,
    TOKENS_PER_WORD,
    random_translator,
)
from loquilex.bench._stream import machine_info, run_stream_bench
from loquilex.cli._common import CliError, Context

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("bench", help="benchmarks")
    bsub = p.add_subparsers(dest="bench_command", required=True)
    synth = bsub.add_parser("synth", help="speak the benchmark meeting with espeak-ng")
    synth.add_argument("output", type=Path, help="WAV to write (plus .timing.json and .txt)")
    synth.set_defaults(handler=run_synth)

    stream = bsub.add_parser("stream", help="replay audio at real time through the live engine")
    stream.add_argument("audio", type=Path)
    stream.add_argument("--ref", required=True, help="reference text, or a file holding it")
    stream.add_argument("--timing", type=Path, help="sentence timings (default AUDIO.timing.json)")
    stream.add_argument("--streams", type=int, default=1, help="concurrent streams")
    stream.add_argument("--json", type=Path, help="write the results here")
    stream.add_argument("--model", help="model id or directory")
    stream.add_argument("--no-offline", action="store_true", help="skip the offline WER baseline")
    stream.add_argument(
        "--translate",
        metavar="LANG",
        help="translate live too; runs the recording twice, without and with translation",
    )
    stream.add_argument(
        "--diarize",
        action="store_true",
        help="attribute finals to speakers and score them against the timing's speakers",
    )
    stream.add_argument("--prosody", action="store_true", help="measure prosody on finals too")
    which = stream.add_mutually_exclusive_group()
    which.add_argument("--mt-model", help="an installed translation model")
    which.add_argument(
        "--mt-arch",
        choices=sorted(ARCHITECTURES),
        help="a random-weight model of this real architecture (speed only; built and cached)",
    )
    stream.set_defaults(handler=run_stream)

    rep = bsub.add_parser(
        "replay",
        help="the live engine on the audio clock, 20 ms at a time: deterministic finals, "
        "per-sentence latency in audio seconds, the late sentences listed",
    )
    rep.add_argument("audio", type=Path)
    rep.add_argument("--ref", required=True, help="reference text, or a file holding it")
    rep.add_argument("--timing", type=Path, help="sentence timings (default AUDIO.timing.json)")
    rep.add_argument("--model", help="model id or directory")
    rep.add_argument(
        "--late", type=float, default=1.5, help="list sentences final later than this (s)"
    )
    rep.add_argument("--finals", action="store_true", help="print every final as it came out")
    rep.add_argument("--json", type=Path, help="write the results here")
    rep.set_defaults(handler=run_replay)

    devset = bsub.add_parser("devset", help="build the development set of recordings")
    devset.add_argument("output", type=Path, help="folder for the WAV, text and timing files")
    devset.add_argument("--cache", type=Path, help="where source archives are kept")
    devset.add_argument(
        "--synthetic-only", action="store_true", help="only the espeak-ng recordings (no download)"
    )
    devset.add_argument("--only", action="append", help="build just this recording (repeatable)")
    devset.set_defaults(handler=run_devset)

    table = bsub.add_parser("table", help="a Markdown table of `bench stream` JSON results")
    table.add_argument("results", type=Path, nargs="+")
    table.add_argument(
        "--speakers", action="store_true", help="speaker attribution columns (`--diarize` runs)"
    )
    table.set_defaults(handler=run_table)

    soak = bsub.add_parser("soak", help="a long stream (audio in a loop): memory over time")
    soak.add_argument("audio", type=Path)
    soak.add_argument("--minutes", type=float, default=30.0)
    soak.add_argument("--json", type=Path, help="write the results here")
    soak.set_defaults(handler=run_soak_cmd)

    server_soak = bsub.add_parser(
        "server-soak",
        help="a real server for a long while: one long /stream session and a churn of short, "
        "abandoned and unfed ones; server memory over time",
    )
    server_soak.add_argument("audio", type=Path)
    server_soak.add_argument("--minutes", type=float, default=30.0, help="audio minutes")
    server_soak.add_argument(
        "--speed", type=float, default=2.5, help="× real time (the rate limit is 3)"
    )
    server_soak.add_argument("--json", type=Path, help="write the results here")
    server_soak.set_defaults(handler=run_server_soak_cmd)

    fanout = bsub.add_parser("fanout", help="event delivery to many WebSocket subscribers")
    fanout.add_argument("--subscribers", type=int, default=100)
    fanout.add_argument("--events", type=int, default=500)
    fanout.add_argument("--rate", type=float, default=200.0, help="events published per second")
    fanout.add_argument("--json", type=Path, help="write the results here")
    fanout.set_defaults(handler=run_fanout)

    cluster = bsub.add_parser(
        "cluster",
        help="cluster mode with redis-server and real nodes: fan-out through Redis, "
        "placement, failover (docs/scaling.md)",
    )
    cluster.add_argument("audio", type=Path, help="speech the fan-out session captions")
    cluster.add_argument("--viewers", type=int, default=500, help="split over two nodes")
    cluster.add_argument(
        "--viewer-processes",
        type=int,
        default=4,
        help="client processes the viewers are dealt out to (1: all in one, which adds that "
        "process's own queue to every latency)",
    )
    cluster.add_argument("--json", type=Path, help="write the results here")
    cluster.set_defaults(handler=run_cluster)

    sim = bsub.add_parser(
        "cluster-sim",
        help="four CPU-limited nodes join, leave and die while rooms caption (docs/scaling.md)",
    )
    sim.add_argument("audio", type=Path, help="speech each room's sender loops")
    sim.add_argument("--json", type=Path, help="write the results here")
    sim.set_defaults(handler=run_cluster_sim_cmd)


def run_synth(args: argparse.Namespace, ctx: Context) -> int:
    clips = synthesize(MEETING_SENTENCES, args.output, pauses=MEETING_PAUSES)
    print(f"wrote {args.output} ({clips[-1].end + 1.0:.1f} s, {len(clips)} sentences)")
    return 0


def run_devset(args: argparse.Namespace, ctx: Context) -> int:
    from loquilex.bench._devset import DEVSET, build_devset
    from loquilex.errors import DevsetError

    known = {r.name for r in DEVSET}
    unknown = sorted(set(args.only or []) - known)
    if unknown:
        raise CliError(
            f"unknown recording {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    cache = args.cache or ctx.settings.cache_dir / "devset"
    try:
        built = build_devset(args.output, cache, names=args.only, real=not args.synthetic_only)
    except DevsetError as exc:
        raise CliError(str(exc)) from exc
    for rec in built:
        print(f"{rec.wav(args.output)}  {rec.description}")
    return 0


#: Columns of `bench table`: (heading, result key, format).
_TABLE = (
    ("WER", "wer", "{:.1%}"),
    ("offline", "offline_beam5_wer", "{:.1%}"),
    ("× offline", "wer_vs_offline", "{:.2f}"),
    ("sub", "substitution_rate", "{:.1%}"),
    ("del", "deletion_rate", "{:.1%}"),
    ("ins", "insertion_rate", "{:.1%}"),
    ("final p50", "final_latency_p50_s", "{:.2f} s"),
    ("p95", "final_latency_p95_s", "{:.2f} s"),
    ("max", "final_latency_max_s", "{:.2f} s"),
    ("not final", "sentences_not_finalized", "{}"),
    ("first text", "first_text_s", "{:.2f} s"),
    ("in silence", "words_in_silence", "{}"),
    ("CPU-s/s", "cpu_s_per_audio_s", "{:.2f}"),
    ("RSS", "peak_rss_mb", "{:.0f} MB"),
)


_SPEAKER_TABLE = (
    ("speakers", "true_speakers", "{}"),
    ("found", "found_speakers_max", "{}"),
    ("words right", "speaker_accuracy", "{:.1%}"),
    ("turn changes", "turn_changes", "{}"),
    ("found ≤0.5 s", "turn_changes_found", "{}"),
    ("change error p50", "turn_change_error_p50_s", "{:.2f} s"),
    ("diarize CPU-s/s", "diarize_cpu_s_per_audio_s", "{:.3f}"),
    ("wait p50", "enrich_wait_p50_s", "{:.3f} s"),
    ("wait p95", "enrich_wait_p95_s", "{:.3f} s"),
    ("final p95", "final_latency_p95_s", "{:.2f} s"),
    ("WER", "wer", "{:.1%}"),
    ("CPU-s/s", "cpu_s_per_audio_s", "{:.2f}"),
    ("RSS", "peak_rss_mb", "{:.0f} MB"),
)


def run_table(args: argparse.Namespace, ctx: Context) -> int:
    columns = _SPEAKER_TABLE if args.speakers else _TABLE
    print("| recording | " + " | ".join(h for h, _, _ in columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for path in args.results:
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            results = report["results"]
        except (OSError, ValueError, KeyError) as exc:
            raise CliError(f"{path}: not a `bench stream` result ({exc})") from exc
        cells = []
        for _, key, fmt in columns:
            value = results.get(key)
            cells.append("—" if value is None else fmt.format(value))
        name = path.stem + (f" ×{results['streams']}" if results.get("streams", 1) > 1 else "")
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


def _load_timing(path: Path) -> list[SpeechClip]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [
            SpeechClip(str(c["text"]), float(c["start"]), float(c["end"]), c.get("speaker"))
            for c in data
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CliError(f"cannot read sentence timings from {path}: {exc}") from exc


def run_stream(args: argparse.Namespace, ctx: Context) -> int:
    from loquilex.models import load_configured

    if args.streams < 1:
        raise CliError("--streams must be at least 1")
    ref_path = Path(args.ref)
    reference = ref_path.read_text(encoding="utf-8") if ref_path.is_file() else args.ref
    timing_path = args.timing or args.audio.with_suffix(".timing.json")
    clips = _load_timing(timing_path) if timing_path.is_file() else None
    asr = ctx.settings.asr
    model = load_configured(ctx.store.resolve(asr.model), asr)
    common: dict[str, Any] = {
        "model": model,
        "language": asr.language,
        "config": ctx.settings.stream,
        "clips": clips,
        "streams": args.streams,
        "workers": asr.workers,
        "diarize": args.diarize,
        "prosody": args.prosody,
    }
    result = run_stream_bench(args.audio, reference, offline=not args.no_offline, **common)
    summary = result.summary()
    if args.translate:
        translator = _bench_translator(args, ctx)
        with_mt = run_stream_bench(
            args.audio,
            reference,
            offline=False,
            translator=translator,
            target_lang=args.translate,
            **common,
        ).summary()
        without = {k: summary[k] for k in _COMPARED}
        summary = {
            **summary,
            **{k: v for k, v in with_mt.items() if k.startswith("transl")},
            "with_translation": {k: with_mt[k] for k in _COMPARED},
            "without_translation": without,
            "mt_threads": ctx.settings.mt.threads,
            "mt_length_cap": (
                f"{TOKENS_PER_WORD} source tokens per word, output capped at "
                f"{BENCH_LENGTH_RATIO} x source tokens + 2 (random weights always reach it)"
                if args.mt_arch
                else "2.5 x source tokens + 4"
            ),
        }
    _report(
        summary,
        args.json,
        model=asr.model or ctx.store.get_default(),
        settings={
            "asr": asr.model_dump(mode="json"),
            "stream": ctx.settings.stream.model_dump(),
            **({"mt": ctx.settings.mt.model_dump(mode="json")} if args.translate else {}),
            **(
                {"conversation": ctx.settings.conversation.model_dump(mode="json")}
                if args.diarize or args.prosody
                else {}
            ),
        },
        audio=str(args.audio),
        hypotheses=result.hypotheses,
    )
    return 0


def run_replay(args: argparse.Namespace, ctx: Context) -> int:
    from loquilex.asr import WhisperEngine
    from loquilex.audio import decode_file
    from loquilex.bench._replay import replay
    from loquilex.models import load_whisper

    ref_path = Path(args.ref)
    reference = ref_path.read_text(encoding="utf-8") if ref_path.is_file() else args.ref
    timing_path = args.timing or args.audio.with_suffix(".timing.json")
    clips = _load_timing(timing_path) if timing_path.is_file() else None
    asr = ctx.settings.asr
    # One replica: the replay decodes one window at a time.
    model = load_whisper(
        ctx.store.resolve(args.model or asr.model), asr.device, asr.compute_type, asr.cpu_threads
    )
    result = replay(
        WhisperEngine(model, asr.language),
        decode_file(args.audio),
        reference,
        config=ctx.settings.stream,
        clips=clips,
    )
    if args.finals:
        for at, final in result.finals:
            span = f"[{final.start:7.2f}-{final.end:7.2f}]"
            print(f"{at:8.2f}  {span} {final.eou_reason:<13} {final.text}")
    for sentence in result.late(args.late):
        when = "never final" if sentence.latency is None else f"{sentence.latency:5.2f} s"
        print(f"late  {when}  {sentence.text}")
    for word in result.words_in_silence:
        print(f"in silence  {word}")
    _report(
        result.summary(),
        args.json,
        model=args.model or asr.model or ctx.store.get_default(),
        settings={"stream": ctx.settings.stream.model_dump()},
        audio=str(args.audio),
        hypotheses=[result.text],
        late=[{"text": s.text, "end": s.end, "latency": s.latency} for s in result.late(args.late)],
    )
    return 0


_COMPARED = (
    "final_latency_p50_s",
    "final_latency_p95_s",
    "final_latency_max_s",
    "cpu_s_per_audio_s",
    "peak_rss_mb",
    "wer",
)


def _bench_translator(args: argparse.Namespace, ctx: Context) -> Any:
    from loquilex.mt import MTStore, open_translator

    mt = ctx.settings.mt
    if args.mt_arch:
        return random_translator(args.mt_arch, ctx.settings.cache_dir, threads=mt.threads)
    return open_translator(MTStore(ctx.settings.data_dir), mt, args.mt_model)


def run_soak_cmd(args: argparse.Namespace, ctx: Context) -> int:
    from loquilex.audio import decode_file
    from loquilex.bench._soak import run_soak
    from loquilex.models import load_configured

    if args.minutes <= 0:
        raise CliError("--minutes must be positive")
    asr = ctx.settings.asr
    model = load_configured(ctx.store.resolve(asr.model), asr)
    results = run_soak(
        model,
        decode_file(args.audio),
        minutes=args.minutes,
        config=ctx.settings.stream,
        language=asr.language,
    )
    samples = results.pop("samples")
    _report(results, args.json, samples=samples)
    return 0


def run_server_soak_cmd(args: argparse.Namespace, ctx: Context) -> int:
    import tempfile

    from loquilex.audio import decode_file
    from loquilex.bench._server_soak import run_server_soak

    if args.minutes <= 0 or not 0 < args.speed <= 3:
        raise CliError("--minutes must be positive and --speed within (0, 3]")
    with tempfile.TemporaryDirectory(prefix="lx-server-soak-") as tmp:
        results = run_server_soak(
            decode_file(args.audio), minutes=args.minutes, speed=args.speed, data_dir=Path(tmp)
        )
    samples = results.pop("samples")
    _report(results, args.json, samples=samples)
    return 0


def run_fanout(args: argparse.Namespace, ctx: Context) -> int:
    from loquilex.bench._fanout import run_fanout_bench

    if args.subscribers < 1 or args.events < 1 or args.rate <= 0:
        raise CliError("--subscribers, --events and --rate must be positive")
    server = ctx.settings.server.model_dump(include={"ws_compression"})
    _report(
        run_fanout_bench(args.subscribers, args.events, args.rate),
        args.json,
        settings={"server": server},
    )
    return 0


def run_cluster(args: argparse.Namespace, ctx: Context) -> int:
    from loquilex.bench._cluster import run_cluster_bench

    if args.viewers < 2:
        raise CliError("--viewers must be at least 2 (one per node)")
    if not 1 <= args.viewer_processes <= args.viewers:
        raise CliError("--viewer-processes must be between 1 and the number of viewers")
    if shutil.which("redis-server") is None:
        raise CliError("redis-server is not installed (apt-get install redis-server)")
    # The nodes inherit this environment, so they serve with these server settings.
    server = ctx.settings.server.model_dump(include={"ws_compression", "subscriber_queue"})
    _report(
        run_cluster_bench(args.audio, args.viewers, viewer_processes=args.viewer_processes),
        args.json,
        settings={"server": server},
    )
    return 0


def run_cluster_sim_cmd(args: argparse.Namespace, ctx: Context) -> int:
    from loquilex.bench._cluster_sim import run_cluster_sim

    for tool in ("redis-server", "taskset"):
        if shutil.which(tool) is None:
            raise CliError(f"{tool} is not installed")
    _report(run_cluster_sim(args.audio), args.json)
    return 0


def _report(results: dict[str, Any], json_path: Path | None, **context: Any) -> None:
    """Print the results as a table; with ``--json``, write them with the exact command,
    date and machine, so a number in the docs can be traced to how it was made."""
    width = max(len(k) for k in results)
    for key, value in results.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            print(key)
            for item in value:
                print("    " + "  ".join(f"{k}={v}" for k, v in item.items()))
        else:
            print(f"{key.ljust(width)}  {value}")
    if json_path is not None:
        report = {
            "command": "loquilex " + " ".join(sys.argv[1:]),
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine_info(),
            **context,
            "results": results,
        }
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
