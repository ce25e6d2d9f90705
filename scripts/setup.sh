#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine of this kind: system packages, virtualenv, Python and
# npm dependencies. Fast when everything is already there (it compares stamps, it does not reinstall).
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: the browser tests/e2e/test_player.py drives through Playwright (which cannot download its own here)
APT_PACKAGES=(ffmpeg libchromaprint-tools sox nginx libnginx-mod-http-js wrk gettext-base nodejs npm chromium)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# nodejs may come from outside Debian (no `npm` package then): a working npm is enough.
if command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/npm}"); missing=("${missing[@]/nodejs}")
fi
read -r -a missing <<< "${missing[*]:-}"
if ((${#missing[@]})); then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  # policy-rc.d 101: packages must not start services (tests run their own nginx on loopback ports)
  printf "#!/bin/sh\nexit 101\n" | $SUDO tee /usr/sbin/policy-rc.d >/dev/null && $SUDO chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  $SUDO rm -f /usr/sbin/policy-rc.d
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=".venv/.setup-stamp"
want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing Python dependencies"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
fi

if [ -f tests/js/package.json ]; then
  jstamp="tests/js/node_modules/.setup-stamp"
  jwant=$(cat tests/js/package.json tests/js/package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)
  if [ ! -f "$jstamp" ] || [ "$(cat "$jstamp")" != "$jwant" ]; then
    echo "setup: installing test npm packages"
    (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
    echo "$jwant" > "$jstamp"
  fi
fi

# The web player: player/ (TypeScript, Vite) built into src/cadenza/web/static/, which the app serves at
# `/`. `npm ci` only when the lock file changes; the build only when the sources change or it is missing.
pdeps="player/node_modules/.setup-stamp"
pdeps_want=$(cat player/package.json player/package-lock.json | sha256sum | cut -d' ' -f1)
if [ ! -f "$pdeps" ] || [ "$(cat "$pdeps")" != "$pdeps_want" ]; then
  echo "setup: installing the web player's npm packages"
  (cd player && npm ci --no-audit --no-fund --loglevel=error)
  echo "$pdeps_want" > "$pdeps"
fi
pbuild="player/node_modules/.build-stamp"
pbuild_want=$( (cd player && find src public index.html package.json package-lock.json tsconfig.json tsconfig.sw.json vite.config.ts \
  -type f -print0 | sort -z | xargs -0 cat) | sha256sum | cut -d' ' -f1)
if [ ! -f src/cadenza/web/static/index.html ] || [ ! -f "$pbuild" ] || [ "$(cat "$pbuild")" != "$pbuild_want" ]; then
  echo "setup: building the web player"
  (cd player && npm run build --silent)
  echo "$pbuild_want" > "$pbuild"
fi
