#!/usr/bin/env bash
# Install archiver into ./.venv. With --test, also the system tools the tests drive
# (from Debian packages) and the test extras. Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-}"
case "$mode" in
  ""|--test) ;;
  *) echo "usage: scripts/install.sh [--test]" >&2; exit 2 ;;
esac

# System packages the test suite needs: the reference XML-DSig verifier and OpenSSL
# (its TSA for timestamps), Java + Apache PDFBox Preflight and poppler/qpdf/zbar for
# PDF/A, Debian's Chromium and Firefox ESR for the site (Playwright drives Chromium,
# Marionette drives Firefox; no browser is ever downloaded); xorriso/osirrox and isoinfo
# (genisoimage) to read the disc images archiver media writes; rclone and OpenSSH's server
# for replication (the tests start sshd and `rclone serve webdav` on 127.0.0.1 themselves).
# SoftHSM2 is the USB token the tests of PKCS#11 signing keys make (archiver scans import).
TEST_PACKAGES=(xmlsec1 openssl default-jre-headless libpdfbox2-java libactivation-java
               libjaxb-api-java poppler-utils qpdf zbar-tools chromium firefox-esr fonts-noto-core
               xorriso genisoimage rclone openssh-server openssh-client softhsm2)

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    echo "Missing system packages (${missing[*]}) and no apt-get: install them by hand." >&2
    return 1
  fi
  echo "Installing system packages: ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Debian's python3 ships venv and pip separately.
if ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
  apt_install python3-venv python3-pip
fi
if [ "$mode" = "--test" ]; then
  apt_install "${TEST_PACKAGES[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
if [ "$mode" = "--test" ]; then
  # Editable, so the tests run against this checkout.
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
else
  .venv/bin/python -m pip install --quiet --disable-pip-version-check .
fi
echo "archiver $(.venv/bin/archiver --version | awk '{print $NF}') is installed in .venv"
