/*
 * Debian's Chromium (apt-get install -y chromium; .ci/run installs it) driven by
 * playwright-core, with the flags the test machines need: no sandbox for root, no GPU, no
 * background requests to the internet.
 */
import { chromium, type Browser } from 'playwright-core';

const CHROMIUM_PATH = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}
