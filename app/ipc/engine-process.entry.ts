// The engine process's entry: Electron's main starts it with utilityProcess.fork (bundled), tests with
// child_process.fork (through tsx). It serves until the main process sends `close`, then exits.
import { engineOptionsFrom, processPort, serveEngine } from './engine-process.ts';

const served = await serveEngine(processPort(), engineOptionsFrom(process.argv, process.env));
if (served) {
  // A forked Node whose parent died sees its IPC channel close; Electron kills its utility processes itself.
  process.once('disconnect', () => void served.close());
  await served.closed;
  process.exit(0);
}
// The `failed` message is already on its way; leave it a moment to cross before the process goes.
setTimeout(() => process.exit(1), 1_000);
