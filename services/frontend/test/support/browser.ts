// A real browser for the tests: Debian's chromium, driven by playwright-core, with a fresh
// profile each time and nothing fetched from the network by the browser itself.
import { access, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { repoRoot, tempDir } from '@img/shared/testing';

export const CHROMIUM = process.env.IMG_TEST_CHROMIUM ?? '/usr/bin/chromium';
export const screenshotDir = join(repoRoot, 'test-output');

export const viewports = {
  laptop: { viewport: { width: 1280, height: 860 } },
  phone: { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
} as const;

export async function launch(kind: keyof typeof viewports): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  try {
    await access(CHROMIUM);
  } catch {
    throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install chromium), or point IMG_TEST_CHROMIUM at one`);
  }
  const profile = await tempDir('img-chromium-');
  await mkdir(screenshotDir, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    ...viewports[kind],
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
