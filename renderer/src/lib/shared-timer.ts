/** Callbacks falling due this close together run in the same task. */
const SLACK_MS = 16;

interface Entry {
  due: number;
  run: () => void;
  live: boolean;
}

let queue: Entry[] = [];
let timer: ReturnType<typeof setTimeout> | null = null;
let timerDue = Infinity;

function schedule(): void {
  let next = Infinity;
  for (const entry of queue) if (entry.live && entry.due < next) next = entry.due;
  if (next === Infinity) {
    queue = [];
    return;
  }
  if (timer !== null && timerDue <= next) return;
  if (timer !== null) clearTimeout(timer);
  timerDue = next;
  timer = setTimeout(fire, Math.max(0, next - performance.now()));
}

function fire(): void {
  timer = null;
  timerDue = Infinity;
  const until = performance.now() + SLACK_MS;
  const due: Entry[] = [];
  const later: Entry[] = [];
  for (const entry of queue) if (entry.live) (entry.due <= until ? due : later).push(entry);
  queue = later;
  for (const entry of due) entry.run();
  schedule();
}

/**
 * Runs `run` after `ms` (at most a frame early), as setTimeout would, but on one timer shared by every caller:
 * what falls due within a frame runs in one task, so the state updates of a row of tiles mounted in the same frame render
 * together instead of one render per tile. Returns the function that cancels it.
 */
export function runAfter(ms: number, run: () => void): () => void {
  const entry: Entry = { due: performance.now() + ms, run, live: true };
  queue.push(entry);
  schedule();
  return () => {
    entry.live = false;
  };
}
