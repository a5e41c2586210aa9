/**
 * `tsx src/backup-cli.ts backup <file>` / `restore <file>`: the SQLite half of scripts/backup.sh and
 * scripts/restore.sh. The database file comes from the same settings as the service (DATABASE_URL,
 * KEEPSAKE_SYNC_DATA), so the scripts and the service never disagree about where it is.
 */
import { backupSqlite, restoreSqlite } from './backup.ts';
import { ConfigError, loadConfig } from './config.ts';

async function run(argv: string[]): Promise<void> {
  const [command, file] = argv;
  const config = loadConfig();
  if (config.database.kind !== 'sqlite') throw new Error('DATABASE_URL is PostgreSQL: use pg_dump / pg_restore (scripts/backup.sh does).');
  if ((command !== 'backup' && command !== 'restore') || file === undefined) {
    throw new Error('Usage: tsx src/backup-cli.ts backup|restore <file>');
  }
  if (command === 'backup') {
    await backupSqlite(config.database.file, file);
    process.stdout.write(`Backed up ${config.database.file} to ${file} (integrity ok).\n`);
  } else {
    await restoreSqlite(file, config.database.file);
    process.stdout.write(`Restored ${file} into ${config.database.file} (integrity ok).\n`);
  }
}

run(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigError || error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
