import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';

/** Flags for a headless Chromium that talks to nothing but the page under test. */
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Debian's `chromium` for the browser tests: installed with apt-get when missing (as root), a
 * clear error otherwise. The browser tests never skip: without a browser they fail, saying why.
 */
export function ensureChromium(log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): string {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `${CHROMIUM} is missing and this user cannot install it: run \`sudo apt-get update && sudo apt-get install -y chromium\``,
    );
  }
  log(`[test stack] ${CHROMIUM} missing: apt-get install -y chromium (once)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'pipe'], env });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env,
    });
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim().slice(-800) ?? '';
    throw new Error(`apt-get install chromium failed: ${(e as Error).message}\n${stderr}`, { cause: e });
  }
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium but ${CHROMIUM} is still missing`);
  return CHROMIUM;
}

// `tsx test/src/chromium.ts`: install it ahead of the tests.
if (import.meta.url === `file://${process.argv[1]}`) ensureChromium();
