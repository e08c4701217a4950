import { TOOL } from '../version.js';

/**
 * `drydock scan … | head -3`: once the reader is gone, writes to stdout fail with EPIPE,
 * emitted as an 'error' event that, unhandled, would end the process with a stack trace
 * and exit code 1 (which means "findings"). A closed stdout or stderr is not the scan's
 * fault: further output is dropped and the process exits with the command's own code.
 */
export function endQuietlyOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED' || e.code === 'ECONNRESET') return;
    // Any other failure to write the output is a scan error (exit 3), said once and without a stack.
    process.exitCode = 3;
    try {
      process.stderr.write(`drydock: cannot write output: ${e.message}\n`);
    } catch {
      // stderr is gone as well
    }
  });
}

endQuietlyOnClosedPipe(process.stdout);
endQuietlyOnClosedPipe(process.stderr);
const argv = process.argv.slice(2);
if (argv[0] === '-v' || argv[0] === '--version') {
  // answered here, as main() answers it, before the command tables are loaded: the start-up floor of every command
  process.stdout.write(`${TOOL.name} ${TOOL.version}\n`);
} else {
  const { main } = await import('./main.js');
  process.exitCode = await main(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env });
}
exitOnceWritten();

/**
 * The command is done once main() returns (every file it writes is awaited; nothing of ours runs
 * after it): the process ends there instead of running V8's pending collection (a scan leaves an
 * incremental marking to finish, some 15 ms waiting on the marking threads of a busy 2-core
 * machine) and freeing the heap at exit. Only once stdout and stderr hold nothing unwritten, and
 * after the ticks already queued (a write's error event sets the exit code): else the process
 * ends as before, when its streams are drained. 'exit' listeners still run.
 */
function exitOnceWritten(): void {
  process.nextTick(() => {
    if (process.stdout.writableLength === 0 && process.stderr.writableLength === 0) process.exit();
  });
}
