#!/usr/bin/env bash
# System packages the tests need: espeak-ng (speech), sox (conversion), and Debian's
# chromium for the browser tests (Playwright drives it; browser downloads are not used), and a
# Chinese font so that the page's translation line renders in them (1.6 MB), and jemalloc for
# the server's memory (0.7 MB), and Redis for the cluster-mode tests.
# Installs only what is missing, so it is fast when everything is there.
set -euo pipefail

need=()
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v sox >/dev/null 2>&1 || need+=(sox)
command -v make >/dev/null 2>&1 || need+=(make)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
# jemalloc: `loquilex serve` and `live` run on it when it is there (flat memory over hours).
compgen -G "/usr/lib/*/libjemalloc.so.2" >/dev/null || need+=(libjemalloc2)
# Redis: the cluster-mode tests start their own redis-server on a free loopback port.
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)

if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
echo "installing system packages: ${need[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
