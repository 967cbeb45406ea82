#!/usr/bin/env bash
# System and npm tools the tests need, installed only when missing:
#   PostgreSQL server (ledger tests on a real server), Chromium (browser tests),
#   Redis (the Celery broker of the distributed test), SpamAssassin (spam score of
#   every email), Prism (SendGrid's Mail Send spec as a stand-in server), axe-core
#   (accessibility) and caniemail's checker @jsx-email/doiuse-email (npm).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v spamassassin >/dev/null 2>&1 || need_apt+=(spamassassin)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# npm ci again whenever package-lock.json is newer than the installed tree.
if [ ! -x node_modules/.bin/prism ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
