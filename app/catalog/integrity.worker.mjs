// Runs SQLite's quick_check on a large catalog on its own read-only connection, off the engine's event loop:
// at a million assets it reads the whole file (seconds), which must not delay opening the library.
// Plain JavaScript so it loads in any worker (Node, Electron's utility process, vitest) without a loader.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

let problems;
try {
  const db = new Database(workerData.file, { readonly: true, fileMustExist: true });
  try {
    problems = db.pragma('quick_check').map((row) => String(row.quick_check).replace(/\s+/g, ' ').trim()).filter((text) => text !== 'ok');
  } finally {
    db.close();
  }
} catch (error) {
  problems = [String(error && error.message ? error.message : error)];
}
parentPort.postMessage({ problems });
