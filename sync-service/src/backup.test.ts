/**
 * SQLite backup and restore (SQLite only: PostgreSQL backups are pg_dump's job). The backup runs while
 * the app is open and writing, and the restored copy must hold every row the app had committed.
 */
import Sqlite from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupSqlite, integrityCheck, restoreSqlite } from './backup.ts';
import { SERVICE_ROOT } from './config.ts';
import { TEST_DATABASES } from './test/databases.ts';
import { startHarness, type Harness } from './test/harness.ts';

const sqliteTarget = TEST_DATABASES.find((target) => target.name === 'sqlite');
if (sqliteTarget === undefined) throw new Error('the SQLite test database is always in the matrix');

/** Every row of every table, in a stable order: what "the same data" means here. */
function dump(file: string): Record<string, unknown[]> {
  const db = new Sqlite(file, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name").all() as Array<{ name: string }>;
    return Object.fromEntries(tables.map(({ name }) => [name, db.prepare(`select * from "${name}" order by rowid`).all()]));
  } finally {
    db.close();
  }
}

describe('SQLite backup and restore', () => {
  let h: Harness;
  let liveFile: string;
  let school: string;
  let token: string;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keepsake-sync-backup-'));
  let made = 0;

  const createEvent = async () => {
    made += 1;
    const response = await h.call('POST', `/v1/schools/${school}/events`, token, { name: `Event ${made}`, startsOn: '2026-06-01' });
    expect(response.statusCode).toBe(201);
    return response.json<{ id: string }>().id;
  };
  const eventIds = (file: string) => (dump(file).events as Array<{ id: string }>).map((row) => row.id);

  beforeAll(async () => {
    h = await startHarness(sqliteTarget);
    const list = await sql<{ name: string; file: string }>`pragma database_list`.execute(h.db.kysely);
    liveFile = list.rows.find((row) => row.name === 'main')?.file ?? '';
    school = await h.createSchool('backup');
    await h.createUser('ada@school.test', [[school, 'admin']]);
    token = (await h.signIn('ada@school.test')).accessToken;
  });
  afterAll(async () => {
    await h.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('backs up while the app writes, and restores every committed row', async () => {
    const before: string[] = [];
    for (let i = 0; i < 20; i++) before.push(await createEvent());

    const writing = (async () => {
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) ids.push(await createEvent());
      return ids;
    })();
    const backup = path.join(dir, 'during.db');
    await backupSqlite(liveFile, backup);
    const during = await writing;

    const restored = path.join(dir, 'restored', 'sync.db');
    await restoreSqlite(backup, restored);
    const ids = eventIds(restored);
    // A snapshot: everything committed before the backup, then a prefix of what was written meanwhile.
    expect(ids.slice(0, 20)).toEqual(before);
    expect(ids.slice(20)).toEqual(during.slice(0, ids.length - 20));

    // Quiet again: a second backup equals the live database, table by table.
    const quiet = path.join(dir, 'quiet.db');
    await backupSqlite(liveFile, quiet);
    const again = path.join(dir, 'again', 'sync.db');
    await restoreSqlite(quiet, again);
    expect(dump(again)).toEqual(dump(liveFile));
    expect(eventIds(again)).toEqual([...before, ...during]);
    // The restored file opens and serves like any other.
    integrityCheck(again);
  });

  it('refuses a corrupt backup', async () => {
    const good = path.join(dir, 'good.db');
    await backupSqlite(liveFile, good);
    const bytes = fs.readFileSync(good);
    bytes.fill(0x5a, 4096, 4096 * 3); // scribble over pages 2 and 3
    const bad = path.join(dir, 'bad.db');
    fs.writeFileSync(bad, bytes);
    await expect(restoreSqlite(bad, path.join(dir, 'never', 'sync.db'))).rejects.toThrow();
    expect(fs.existsSync(path.join(dir, 'never', 'sync.db'))).toBe(false);
  });

  it('scripts/backup.sh keeps the newest BACKUP_KEEP, scripts/restore.sh puts one back', () => {
    const backups = path.join(dir, 'scripted');
    const env = { ...process.env, DATABASE_URL: `sqlite:${liveFile}`, BACKUP_KEEP: '2' };
    fs.mkdirSync(backups);
    // Two older backups (by name), so one run must remove exactly one of them.
    fs.writeFileSync(path.join(backups, 'keepsake-sync-20000101T000000Z.db'), 'old');
    fs.writeFileSync(path.join(backups, 'keepsake-sync-20000102T000000Z.db'), 'old');
    const run = spawnSync('bash', ['scripts/backup.sh', backups], { cwd: SERVICE_ROOT, env, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const kept = fs.readdirSync(backups).sort();
    expect(kept).toHaveLength(2);
    expect(kept[0]).toBe('keepsake-sync-20000102T000000Z.db');
    const fresh = path.join(backups, kept[1] ?? '');
    integrityCheck(fresh);

    const target = path.join(dir, 'scripted-restore', 'sync.db');
    const refused = spawnSync('bash', ['scripts/restore.sh', fresh], { cwd: SERVICE_ROOT, env: { ...env, DATABASE_URL: `sqlite:${target}` }, encoding: 'utf8' });
    expect(refused.status).toBe(2); // without --yes
    const restore = spawnSync('bash', ['scripts/restore.sh', fresh, '--yes'], { cwd: SERVICE_ROOT, env: { ...env, DATABASE_URL: `sqlite:${target}` }, encoding: 'utf8' });
    expect(restore.status, restore.stderr).toBe(0);
    expect(dump(target)).toEqual(dump(liveFile));
  });
});
