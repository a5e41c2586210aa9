#!/usr/bin/env bash
# Restores a backup made by scripts/backup.sh into the database DATABASE_URL names. Stop every
# instance of the service first (or scale the Deployment to 0): the restore replaces all rows.
#
#   scripts/restore.sh <backup file> --yes
#
#   *.db   (SQLite):     integrity-checked, written through SQLite's backup API, checked again.
#   *.dump (PostgreSQL): pg_restore --clean --if-exists --single-transaction (needs the client tools).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
file="${1:-}"
if [[ -z "$file" || "${2:-}" != "--yes" ]]; then
  echo "Usage: $0 <backup file> --yes   (replaces the database DATABASE_URL names; stop the service first)" >&2
  exit 2
fi
if [[ ! -f "$file" ]]; then
  echo "No such backup file: $file" >&2
  exit 2
fi
file="$(cd "$(dirname "$file")" && pwd)/$(basename "$file")"

case "$file" in
  *.dump)
    case "${DATABASE_URL:-}" in
      postgres://* | postgresql://*) ;;
      *)
        echo "$file is a PostgreSQL dump but DATABASE_URL is not a postgres:// URL" >&2
        exit 2
        ;;
    esac
    if ! command -v pg_restore >/dev/null 2>&1; then
      echo "pg_restore not found: install the PostgreSQL client tools (e.g. apt-get install postgresql-client)" >&2
      exit 3
    fi
    pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error --dbname="$DATABASE_URL" "$file"
    echo "Restored $file into PostgreSQL."
    ;;
  *.db)
    (cd "$here" && node --import tsx src/backup-cli.ts restore "$file")
    ;;
  *)
    echo "Unknown backup type (expected .db or .dump): $file" >&2
    exit 2
    ;;
esac
