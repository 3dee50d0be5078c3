#!/usr/bin/env bash
# Host tools for the Asterisk end-to-end tests and the node config checks: SIPp (sip-tester),
# debootstrap (builds the Asterisk 22 root, see scripts/asterisk_root.sh), nftables (`nft -c`), iproute2.
# Then build the Asterisk root once (reused from /var/cache on later runs). Idempotent; needs root.
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=()
command -v sipp >/dev/null || missing+=(sip-tester)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v nft >/dev/null || missing+=(nftables)
command -v ip >/dev/null || missing+=(iproute2)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "asterisk prereqs: missing ${missing[*]} and not root: the Asterisk tests will skip (or fail with CI=true)" >&2
    exit 0
  fi
  echo "asterisk prereqs: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ "$(id -u)" -eq 0 ] && ! bash scripts/asterisk_root.sh build >/dev/null; then
  # With CI=true the Asterisk tests then fail (never skip); elsewhere they skip.
  [ "${CI:-}" = "true" ] && exit 1
  echo "asterisk prereqs: could not build the Asterisk root; the Asterisk tests will skip" >&2
fi
