#!/usr/bin/env node
/** The `flowaudit` executable: runs the command line once and exits with its code. */
import { internalError, main } from './program.js';

// Whatever escapes a command (a rejected timer callback, an error event nobody listens to) is a bug too.
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (e: unknown) => process.exit(internalError(e)));
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
