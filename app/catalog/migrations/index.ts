import type { Database } from 'better-sqlite3';
import { up as up0001 } from './0001-initial.ts';
import { up as up0002 } from './0002-search.ts';
import { up as up0003 } from './0003-derivatives.ts';
import { up as up0004 } from './0004-cloud.ts';

/** A schema step; `version` is the `PRAGMA user_version` it leaves behind. */
export interface Migration {
  version: number;
  name: string;
  up: (db: Database) => void;
}

/** Every migration in order. Append-only once released: never edit a shipped one. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial', up: up0001 },
  { version: 2, name: 'search', up: up0002 },
  { version: 3, name: 'derivatives', up: up0003 },
  { version: 4, name: 'cloud', up: up0004 },
];

/** The schema version this build expects. */
export const SCHEMA_VERSION = MIGRATIONS.length;
