#!/usr/bin/env bash
# Headless Chromium for the admin browser tests (tests/web/test_browser.py), from Debian's package.
# Playwright drives it by executable path: never `playwright install` (no browser downloads). Idempotent; needs root.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium prereqs: chromium is missing and we are not root: the browser tests will skip (or fail with CI=true)" >&2
  exit 0
fi
echo "chromium prereqs: installing chromium" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
