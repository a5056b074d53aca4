#!/bin/sh
# Installs the Debian packages the project needs, and nothing when all are
# there. Idempotent and quiet on a machine that is ready; needs root (or sudo)
# only when something is missing. Usage: harness/install-deps.sh [GROUP...]
#   base  build and unit/integration tests (default)
#   relay libraries of argo-relayd (OpenSSL, inih)
set -eu

pkgs_base="build-essential pkg-config libcunit1-dev libinih-dev cppcheck clang iproute2 socat"
pkgs_relay="libssl-dev"

groups="${*:-base}"
want=""
for g in $groups; do
	case "$g" in
	base) want="$want $pkgs_base" ;;
	relay) want="$want $pkgs_relay" ;;
	*) echo "install-deps: unknown group '$g' (base, relay)" >&2; exit 2 ;;
	esac
done

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# A stale or absent package list is the usual reason an install fails.
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "install-deps: done"
