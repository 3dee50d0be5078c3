#!/usr/bin/env bash
# Build once, then reuse, a Debian unstable chroot with Asterisk 22 for end-to-end tests.
# Debian 12 ships no asterisk package; sid does. The root lives outside the clone
# (default /var/cache/trunkline/asterisk-root) so fresh CI clones reuse it.
#
#   asterisk_root.sh [build]  build the root if missing; print its path on stdout
#   asterisk_root.sh path     print the root's path (whether built or not)
#   asterisk_root.sh mount    build if missing, bind-mount /proc and /dev into it
#   asterisk_root.sh umount   undo `mount`
#
# Env: TRUNKLINE_ASTERISK_ROOT overrides the root's path. Needs root (debootstrap, chroot).
# Progress goes to stderr, tool output to ROOT.build.log; a failure ends with one
# "asterisk_root.sh: ..." line on stderr and a non-zero exit.
set -Eeuo pipefail

ROOT=${TRUNKLINE_ASTERISK_ROOT:-/var/cache/trunkline/asterisk-root}
ROOT=${ROOT%/}
MARKER=$ROOT/.trunkline-ready   # written last, holds the asterisk version
LOG=$ROOT.build.log
TMP=

say() { echo "asterisk_root.sh: $*" >&2; }
die() { say "$*"; exit 1; }
trap 'die "failed at line $LINENO: $BASH_COMMAND"' ERR
export DEBIAN_FRONTEND=noninteractive

# run WHAT CMD...: run CMD with its output in the log; die with one line if it fails.
run() { local what=$1; shift; "$@" >>"$LOG" 2>&1 || die "$what failed (exit $?); see $LOG"; }

mount_into() {  # mount_into DIR: bind /proc and /dev into DIR unless already there
  local d
  for d in proc dev; do
    mountpoint -q "$1/$d" || mount --bind "/$d" "$1/$d" || die "cannot bind-mount /$d into $1"
  done
}

umount_from() {  # umount_from DIR
  local d
  for d in dev proc; do
    # Lazy fallback: a process still running in the root must not block test teardown.
    if mountpoint -q "$1/$d"; then umount "$1/$d" 2>/dev/null || umount -l "$1/$d"; fi
  done
}

remove_tree() {  # remove_tree DIR, after unmounting all below it (ours, or a killed debootstrap's)
  local m
  awk -v p="$1/" 'index($2, p) == 1 {print $2}' /proc/self/mounts | sort -r |
    while read -r m; do umount -l "$m"; done
  rm -rf --one-file-system "$1"   # --one-file-system: never delete through a leftover /dev bind
}

cleanup() { if [ -n "$TMP" ]; then remove_tree "$TMP" || true; fi; }
trap cleanup EXIT

host_deps() {
  command -v debootstrap >/dev/null && command -v sipp >/dev/null && return
  say "installing debootstrap and sip-tester on the host"
  run "apt-get update (host)" apt-get update
  run "apt-get install debootstrap sip-tester (host)" apt-get install -y debootstrap sip-tester
}

build() {
  [ -f "$MARKER" ] && return
  # The marker is written before the rename, so ROOT without it is not ours: leave it be.
  [ -e "$ROOT" ] && die "$ROOT exists but has no $(basename "$MARKER"); remove it or set TRUNKLINE_ASTERISK_ROOT"
  local old  # temp dirs of a killed build
  for old in "$ROOT".tmp.*; do
    if [ -e "$old" ]; then say "removing leftover $old"; remove_tree "$old"; fi
  done
  host_deps
  : >"$LOG"
  TMP=$(mktemp -d "$ROOT.tmp.XXXXXX")   # beside ROOT so the final mv is an atomic rename
  chmod 755 "$TMP"   # mktemp's 0700 would become the chroot's / and lock out non-root users
  local start=$SECONDS
  say "debootstrap sid into $TMP (log: $LOG)"
  run "debootstrap sid" debootstrap --variant=minbase sid "$TMP"
  # No daemon may start inside the chroot while packages install.
  printf '#!/bin/sh\nexit 101\n' >"$TMP/usr/sbin/policy-rc.d"
  chmod +x "$TMP/usr/sbin/policy-rc.d"
  # minbase sid has no /etc/hosts: "localhost" would not resolve and Asterisk's
  # res_resolver_unbound logs "Failed to set hosts file to 'system'".
  [ -e "$TMP/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$TMP/etc/hosts"
  mount_into "$TMP"
  say "installing asterisk into the root"
  # The mirror serves sid's Release file past its Valid-Until date.
  run "apt-get update (root)" chroot "$TMP" apt-get -o Acquire::Check-Valid-Until=false update
  run "apt-get install asterisk (root)" chroot "$TMP" apt-get install -y --no-install-recommends \
    asterisk asterisk-modules unixodbc odbc-mariadb
  run "apt-get clean (root)" chroot "$TMP" apt-get clean
  umount_from "$TMP"
  # shellcheck disable=SC2016 # ${Version} is dpkg-query's, not ours
  chroot "$TMP" dpkg-query -W -f='${Version}\n' asterisk >"$TMP/.trunkline-ready"
  mv -T "$TMP" "$ROOT"
  TMP=
  say "built $ROOT in $((SECONDS - start)) s: asterisk $(cat "$MARKER")"
}

cmd=${1:-build}
case $cmd in
  path) echo "$ROOT"; exit 0 ;;
  build|mount|umount) ;;
  *) die "unknown command '$cmd' (use build, path, mount or umount)" ;;
esac
[ "$(id -u)" -eq 0 ] || die "must run as root"

mkdir -p "$(dirname "$ROOT")"
# One lock for all commands: concurrent callers wait for a build and never double-mount.
exec 9>"$ROOT.lock"
flock 9

case $cmd in
  build) build; echo "$ROOT" ;;
  mount) build; mount_into "$ROOT" ;;
  umount) umount_from "$ROOT" ;;
esac
