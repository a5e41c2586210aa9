#!/usr/bin/env node
// The engine is TypeScript; tsx compiles it on load (cached), so `npx keepsake` works right after `npm install`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../app/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
