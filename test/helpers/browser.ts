import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (apt), as STACK.md says; override with CHROMIUM_PATH elsewhere. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Headless Chromium with everything that phones home turned off, so that any request the
 * page makes is one the page itself asked for.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** True for URLs on `origin` or that never leave the page (data:, blob:, about:blank). */
export function isLocalUrl(url: string, origin: string): boolean {
  if (url.startsWith('data:') || url.startsWith('blob:') || url === 'about:blank') return true;
  try {
    return new URL(url).origin === origin;
  } catch {
    return false;
  }
}
