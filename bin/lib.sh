# Shared setup for bin/run and bin/test. Sourced, not executed.
# Makes the project runnable on a fresh machine: Python virtualenv, Python and npm packages,
# a project-local PostgreSQL cluster (when DATABASE_URL is unset), migrations, static files.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STATE="$ROOT/.state"
mkdir -p "$STATE"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\033[31mERROR: %s\033[0m\n' "$*" >&2; exit 1; }

find_python() {
  local want
  want="$(cat .python-version)"
  local candidates=()
  if command -v pyenv >/dev/null 2>&1; then
    candidates+=("$(pyenv root)/versions/$want/bin/python")
  fi
  candidates+=("$HOME/.pyenv/versions/$want/bin/python" python3.13 python3.12 python3)
  local c
  for c in "${candidates[@]}"; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      command -v "$c"
      return 0
    fi
  done
  die "Python 3.12 or newer is required (.python-version asks for $want). Install it, e.g. 'pyenv install $want', or Debian's python3.12."
}

setup_python() {
  local reqs="$1"   # requirements.txt or requirements-dev.txt
  if [ ! -x .venv/bin/python ]; then
    say "Creating virtualenv (.venv)"
    "$(find_python)" -m venv .venv
  fi
  local stamp="$STATE/pip-$(basename "$reqs").sha"
  local sum
  sum="$(cat "$reqs" requirements.txt | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
    say "Installing Python packages from $reqs"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$reqs"
    echo "$sum" > "$stamp"
  fi
}

setup_npm() {
  local sum
  sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
  if [ ! -d node_modules ] || [ "$(cat "$STATE/npm.sha" 2>/dev/null)" != "$sum" ]; then
    command -v npm >/dev/null 2>&1 || die "npm is required (Node.js 18+). On Debian: apt-get install -y nodejs npm"
    say "Installing npm packages (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$sum" > "$STATE/npm.sha"
  fi
}

find_pg_bin() {
  local d
  if [ -n "${PG_BIN:-}" ] && [ -x "$PG_BIN/pg_ctl" ]; then echo "$PG_BIN"; return 0; fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  if command -v pg_ctl >/dev/null 2>&1; then dirname "$(command -v pg_ctl)"; return 0; fi
  return 1
}

# Runs a PostgreSQL server command as a non-root user (PostgreSQL refuses to run as root).
pg_as_owner() {
  if [ "$(id -u)" = "0" ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

setup_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then
    say "Using DATABASE_URL from the environment"
    return 0
  fi
  local bin
  if ! bin="$(find_pg_bin)"; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      say "Installing PostgreSQL server (apt-get install postgresql)"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
      bin="$(find_pg_bin)" || die "PostgreSQL was installed but pg_ctl was not found"
    else
      die "PostgreSQL 15+ server binaries were not found. On Debian/Ubuntu: sudo apt-get install postgresql (then re-run), or set PG_BIN to the folder holding pg_ctl, or set DATABASE_URL to an existing database."
    fi
  fi
  local data="$ROOT/.pgdata"
  local port="${KENT_PG_PORT:-54329}"
  if [ "$(id -u)" = "0" ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir "$data" --shell /usr/sbin/nologin postgres
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    say "Creating a project-local PostgreSQL cluster in .pgdata"
    mkdir -p "$data"
    [ "$(id -u)" = "0" ] && chown postgres: "$data"
    chmod 700 "$data"
    pg_as_owner "$bin/initdb" -D "$data" -U kent --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
max_connections = 200
shared_buffers = 256MB
fsync = on
CONF
  fi
  # The parent folder must be reachable by the server's user when running as root.
  [ "$(id -u)" = "0" ] && chmod o+x "$ROOT" 2>/dev/null || true
  if ! pg_as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    say "Starting PostgreSQL on 127.0.0.1:$port"
    pg_as_owner "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start >/dev/null \
      || { tail -20 "$data/server.log" >&2; die "PostgreSQL did not start (log above)"; }
  fi
  "$bin/psql" -h 127.0.0.1 -p "$port" -U kent -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='kent_cs'" | grep -q 1 \
    || "$bin/createdb" -h 127.0.0.1 -p "$port" -U kent kent_cs
  export DATABASE_URL="postgres://kent@127.0.0.1:$port/kent_cs"
  export PG_BIN="$bin"
}

setup_env() {
  # Local development defaults; production sets these itself (see docs/operations.md).
  export DJANGO_DEBUG="${DJANGO_DEBUG:-true}"
  export KENT_DEMO_MODE="${KENT_DEMO_MODE:-true}"
  export DJANGO_SECRET_KEY="${DJANGO_SECRET_KEY:-local-development-only-not-secret-0123456789abcdefghijklmnopqrstuvwxyz}"
}

# Lets `.venv/bin/python manage.py …` work by hand with the same settings: manage.py reads
# .env when the environment configures nothing itself. A .env of your own is left alone.
write_local_env() {
  local marker="# Written by bin/run and bin/test for local development; safe to delete."
  if [ -f .env ] && [ "$(head -n 1 .env)" != "$marker" ]; then
    return 0
  fi
  {
    echo "$marker"
    echo "DJANGO_DEBUG=$DJANGO_DEBUG"
    echo "KENT_DEMO_MODE=$KENT_DEMO_MODE"
    echo "DJANGO_SECRET_KEY=$DJANGO_SECRET_KEY"
    echo "DATABASE_URL=$DATABASE_URL"
  } > .env
}
