# Sourced by scripts/demo and scripts/test: make .venv and install casebridge into it.
# Works on a fresh Debian machine with only python3 (installs python3-venv if root and missing).
set -euo pipefail

PY=${PYTHON:-python3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"

as_root() { [ "$(id -u)" -eq 0 ]; }

apt_install() {
  if as_root && command -v apt-get >/dev/null 2>&1; then
    echo "==> apt-get install $*" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  else
    echo "casebridge needs: $* (Debian packages). Install them with: sudo apt-get install $*" >&2
    return 1
  fi
}

ensure_venv() {  # $1: extras, e.g. "[test]" or ""
  local extras=${1:-}
  if ! command -v "$PY" >/dev/null 2>&1; then
    echo "python3 (>= 3.11) is required" >&2; exit 1
  fi
  if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "casebridge needs Python >= 3.11; found $("$PY" --version)" >&2; exit 1
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating $VENV" >&2
    if ! "$PY" -m venv "$VENV" 2>/dev/null; then
      rm -rf "$VENV"
      local ver; ver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
      apt_install "python${ver}-venv" || apt_install python3-venv
      "$PY" -m venv "$VENV"
    fi
  fi
  local stamp="$VENV/.casebridge-installed" want
  want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)$extras"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  echo "==> installing casebridge$extras into .venv" >&2
  # uv installs the stack about 4x faster than pip; fall back to pip if it cannot be had.
  if [ ! -x "$VENV/bin/uv" ]; then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check uv >/dev/null 2>&1 || true
  fi
  if [ -x "$VENV/bin/uv" ]; then
    (cd "$ROOT" && "$VENV/bin/uv" pip install -q --python "$VENV/bin/python" -e ".$extras")
  else
    (cd "$ROOT" && "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".$extras")
  fi
  echo "$want" > "$stamp"
}
