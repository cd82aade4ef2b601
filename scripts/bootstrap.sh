#!/usr/bin/env bash
# Sourced by scripts/run and scripts/test: creates or reuses .venv and node_modules, and
# reinstalls only when requirements*.txt or package-lock.json changed since the last install.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

pick_python() {
  for candidate in "${PYTHON:-}" python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
      echo "$candidate"
      return 0
    fi
  done
  echo "error: Python 3.11 or newer is required (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

if [ ! -x .venv/bin/python ]; then
  python_bin="$(pick_python)"
  echo "bootstrap: creating .venv with $python_bin" >&2
  "$python_bin" -m venv .venv
fi

py_stamp=.venv/.requirements.sha256
py_want="$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$py_stamp" 2>/dev/null || true)" != "$py_want" ]; then
  echo "bootstrap: installing Python requirements" >&2
  .venv/bin/python -m pip install --disable-pip-version-check --quiet -r requirements-dev.txt
  echo "$py_want" >"$py_stamp"
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "error: Node.js with npm is required to run the Azure Storage emulator (Azurite)" >&2
  exit 1
fi
npm_stamp=node_modules/.package-lock.sha256
npm_want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -x node_modules/.bin/azurite ] || [ "$(cat "$npm_stamp" 2>/dev/null || true)" != "$npm_want" ]; then
  echo "bootstrap: installing the pinned Azurite from package-lock.json" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$npm_want" >"$npm_stamp"
fi

# The preview page's browser test drives the system Chromium (Debian package `chromium`):
# installed once when missing; when that cannot be done here, one line says how.
if ! command -v chromium >/dev/null 2>&1; then
  apt_cmd=()
  if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
      apt_cmd=(env DEBIAN_FRONTEND=noninteractive apt-get)
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      apt_cmd=(sudo -n env DEBIAN_FRONTEND=noninteractive apt-get)
    fi
  fi
  if [ "${#apt_cmd[@]}" -gt 0 ]; then
    echo "bootstrap: installing Chromium (Debian package chromium) for the browser test" >&2
    apt_log="$(mktemp)"
    if ! { "${apt_cmd[@]}" update -qq && "${apt_cmd[@]}" install -y -qq chromium; } \
      >"$apt_log" 2>&1; then
      tail -n 5 "$apt_log" >&2
    fi
    rm -f "$apt_log"
  fi
  if ! command -v chromium >/dev/null 2>&1; then
    echo "error: Chromium is missing and could not be installed: run 'apt-get install -y" \
      "chromium' as root (tests/preview/test_browser.py fails without it)" >&2
  fi
fi
