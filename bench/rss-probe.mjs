// Preloaded into a benchmarked process: reports its peak RSS on stderr when it exits.
import { writeSync } from 'node:fs';

process.on('exit', () => {
  writeSync(2, `\nDRYDOCK_BENCH ${JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS })}\n`);
});
