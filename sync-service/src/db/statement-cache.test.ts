/**
 * The SQLite statement cache behind Kysely (a real SQLite file): a query shape is prepared once, a statement still
 * iterating is never handed out twice, the least recently used shape goes first, and answers stay right after the
 * schema changes under a kept statement.
 */
import Sqlite from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { preparingOnce } from './database.ts';

let dir: string;
let file: Sqlite.Database;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'keepsake-statements-'));
  file = new Sqlite(path.join(dir, 'test.db'));
  file.exec('create table t (id integer primary key, name text)');
  file.prepare('insert into t (name) values (?), (?), (?)').run('a', 'b', 'c');
});

afterEach(async () => {
  if (file.open) file.close();
  await rm(dir, { recursive: true, force: true });
});

describe(preparingOnce.name, () => {
  it('prepares a query once and answers it again from the kept statement', () => {
    const db = preparingOnce(file);
    const first = db.prepare('select name from t where id = ?');
    expect(first.get(2)).toEqual({ name: 'b' });
    const again = db.prepare('select name from t where id = ?');
    expect(again).toBe(first);
    expect(again.get(3)).toEqual({ name: 'c' });
  });

  it('never hands out a statement that is still iterating', () => {
    const db = preparingOnce(file);
    const text = 'select name from t order by id';
    const iterating = db.prepare(text).iterate() as IterableIterator<{ name: string }>;
    expect(iterating.next().value).toEqual({ name: 'a' });
    const other = db.prepare(text);
    expect(other.busy).toBe(false);
    expect(other.all()).toEqual([{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    expect(iterating.next().value).toEqual({ name: 'b' });
    iterating.return?.();
  });

  it('keeps at most `size` statements, dropping the least recently used', () => {
    const db = preparingOnce(file, 2);
    const one = db.prepare('select 1 as n');
    const two = db.prepare('select 2 as n');
    expect(db.prepare('select 1 as n')).toBe(one);
    db.prepare('select 3 as n');
    // "select 2" was used longest ago: prepared anew; "select 1" is still kept.
    expect(db.prepare('select 2 as n')).not.toBe(two);
    expect(db.prepare('select 3 as n').get()).toEqual({ n: 3 });
  });

  it('answers with the new schema after a column is added under a kept statement', () => {
    const db = preparingOnce(file);
    const star = db.prepare('select * from t where id = ?');
    expect(star.get(1)).toEqual({ id: 1, name: 'a' });
    file.exec("alter table t add column class text default '2B'");
    expect(db.prepare('select * from t where id = ?').get(1)).toEqual({ id: 1, name: 'a', class: '2B' });
  });

  it('closes the file', () => {
    const db = preparingOnce(file);
    db.prepare('select 1');
    db.close();
    expect(file.open).toBe(false);
  });
});
