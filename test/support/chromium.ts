/**
 * Headless Chromium from the command line, for tests of the HTML report: `--dump-dom` prints
 * the DOM after the page's scripts ran, `--screenshot` writes a PNG. Each run gets a fresh
 * profile directory (removed afterwards) and the flags that keep Chromium off the network
 * (without them it waits on background requests that a closed network never answers).
 *
 * Debian package: `chromium` (CI: apt-get install -y chromium). DRYDOCK_CHROMIUM names
 * another binary.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const CHROMIUM = process.env.DRYDOCK_CHROMIUM ?? '/usr/bin/chromium';

/** Why the Chromium tests cannot run here, or undefined when they can. */
export const chromiumMissing: string | undefined = existsSync(CHROMIUM)
  ? undefined
  : `${CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium) or set DRYDOCK_CHROMIUM`;

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-extensions',
  '--disable-default-apps',
  '--hide-scrollbars',
  '--mute-audio',
];

async function runChromium(args: string[], timeoutMs: number): Promise<string> {
  const profile = await mkdtemp(join(tmpdir(), 'drydock-chromium-'));
  try {
    return await new Promise<string>((ok, fail) => {
      execFile(
        CHROMIUM,
        [...FLAGS, `--user-data-dir=${profile}`, ...args],
        { timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024, killSignal: 'SIGKILL', env: { ...process.env, HOME: profile } },
        (err, stdout, stderr) => {
          if (err) fail(new Error(`chromium ${args.join(' ')} failed: ${err.message}\n${stderr.split('\n').filter((l) => !/dbus|Fontconfig/i.test(l)).slice(-15).join('\n')}`));
          else ok(stdout);
        },
      );
    });
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

/** The serialised DOM of a local HTML file after its scripts ran. */
export async function dumpDom(htmlFile: string, opts: { timeoutMs?: number } = {}): Promise<string> {
  return runChromium(['--dump-dom', pathToFileURL(resolve(htmlFile)).href], opts.timeoutMs ?? 60_000);
}

/** A PNG of a local HTML file as a 1280-pixel-wide window shows it. */
export async function screenshot(htmlFile: string, pngFile: string, opts: { width?: number; height?: number; timeoutMs?: number } = {}): Promise<void> {
  await runChromium([`--screenshot=${resolve(pngFile)}`, `--window-size=${opts.width ?? 1280},${opts.height ?? 2000}`, pathToFileURL(resolve(htmlFile)).href], opts.timeoutMs ?? 60_000);
}

/** Text as it is in the DOM dump (entities decoded). */
export function decodeEntities(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&nbsp;/g, '\u00a0')
    .replace(/&amp;/g, '&');
}
