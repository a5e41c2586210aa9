#!/usr/bin/env bash
# Backs up the sync service's database into BACKUP_DIR and keeps the newest BACKUP_KEEP backups.
#
#   scripts/backup.sh [BACKUP_DIR]
#
# Reads the same settings as the service: DATABASE_URL (sqlite:<path> or postgres://…; unset = SQLite in
# KEEPSAKE_SYNC_DATA, default ./data). BACKUP_DIR defaults to ./backups, BACKUP_KEEP to 14.
#   SQLite:     an online snapshot through SQLite's backup API (safe while the service runs and writes),
#               then PRAGMA integrity_check of the copy. Never cp a live database file.
#   PostgreSQL: pg_dump --format=custom (needs the PostgreSQL client tools, same major version as the
#               server or newer; CI images may have only the server). Prefer PGPASSWORD or ~/.pgpass to a
#               password inside DATABASE_URL, which other local users can see in the process list.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:-${BACKUP_DIR:-$here/backups}}"
keep="${BACKUP_KEEP:-14}"
if ! [[ "$keep" =~ ^[1-9][0-9]*$ ]]; then
  echo "BACKUP_KEEP must be a whole number of at least 1 (got \"$keep\")" >&2
  exit 2
fi
mkdir -p "$dir"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"

case "${DATABASE_URL:-}" in
  postgres://* | postgresql://*)
    if ! command -v pg_dump >/dev/null 2>&1; then
      echo "pg_dump not found: install the PostgreSQL client tools (e.g. apt-get install postgresql-client)" >&2
      exit 3
    fi
    ext=dump
    out="$dir/keepsake-sync-$stamp.$ext"
    pg_dump --format=custom --no-owner --no-privileges --file="$out.partial" --dbname="$DATABASE_URL"
    # A dump pg_restore cannot list is not a backup.
    pg_restore --list "$out.partial" >/dev/null
    mv "$out.partial" "$out"
    ;;
  *)
    ext=db
    out="$dir/keepsake-sync-$stamp.$ext"
    (cd "$here" && node --import tsx src/backup-cli.ts backup "$out")
    ;;
esac
echo "Backup written: $out"

# Retention: the timestamped names sort oldest first; drop all but the newest $keep.
find "$dir" -maxdepth 1 -type f -name "keepsake-sync-*.$ext" | sort -r | tail -n +"$((keep + 1))" | while IFS= read -r old; do
  rm -f -- "$old"
  echo "Removed old backup: $old"
done
