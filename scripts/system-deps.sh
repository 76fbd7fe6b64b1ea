#!/usr/bin/env bash
# Install the Debian packages the test suite drives for real, when they are missing.
set -euo pipefail
need=()
command -v pflogsumm >/dev/null 2>&1 || need+=(pflogsumm)
command -v dnsmasq >/dev/null 2>&1 || need+=(dnsmasq-base)
# tests/test_html_report.py opens the HTML report in headless Chromium (big, but a real browser).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: missing ${need[*]}; install them (tests that need them will skip)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
