#!/usr/bin/env bash
# `make bench`: synthesise the benchmark meeting (espeak-ng) and replay it at real time
# through the streaming engine, 1 stream and 4 concurrent streams. Prints the numbers and
# writes JSON to bench/results/. Takes about 4 minutes (the audio is replayed at real time).
set -euo pipefail
cd "$(dirname "$0")/.."
LX=${LX:-.venv/bin/loquilex}
mkdir -p bench/audio bench/results
$LX bench synth bench/audio/meeting.wav
$LX bench stream bench/audio/meeting.wav --ref bench/audio/meeting.txt \
    --json bench/results/stream-1.json
$LX bench stream bench/audio/meeting.wav --ref bench/audio/meeting.txt --streams 4 \
    --no-offline --json bench/results/stream-4.json
$LX bench fanout --subscribers 100 --events 500 --rate 200 --json bench/results/fanout-100.json
