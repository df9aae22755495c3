/**
 * Headless Chromium for the tests that use the web pages as a person would: Debian's
 * `/usr/bin/chromium` (installed by `.ci/run`, never downloaded) driven by `playwright-core`, with a
 * fresh profile directory removed afterwards; the front end bundled once per test process into a
 * temporary directory that `BATON_UI_DIR` points the CLI at; and the artifacts directory where
 * screenshots are kept.
 */
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { bundleUi } from '../../src/dashboard/bundle.js';
import { ROOT } from '../local/helpers.js';

/** Debian's Chromium. */
export const CHROMIUM = '/usr/bin/chromium';

/** Where tests keep screenshots and rendered pages (not committed; CI may upload it). */
export const ARTIFACTS = join(ROOT, 'artifacts');

/** Flags for a headless browser that makes no connection of its own. */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** True when Chromium is installed. */
export function haveChromium(): boolean {
  return existsSync(CHROMIUM);
}

let built: Promise<string> | undefined;

/** Bundles the front end once for this process and points `BATON_UI_DIR` (inherited by child batons) at it. */
export function buildUi(): Promise<string> {
  built ??= (async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'baton-ui-')), 'ui');
    await bundleUi(dir);
    process.env.BATON_UI_DIR = dir;
    // Synchronously: an 'exit' listener cannot wait for a promise.
    process.once('exit', () => rmSync(join(dir, '..'), { recursive: true, force: true }));
    return dir;
  })();
  return built;
}

/** A page of a fresh headless Chromium, with every console error and page error collected. */
export interface BrowserPage {
  page: Page;
  errors: string[];
  close(): Promise<void>;
}

/** Launches Chromium with a fresh profile; `close` ends it and removes the profile. */
export async function openBrowser(viewport = { width: 1280, height: 900 }): Promise<BrowserPage> {
  const profile = await mkdtemp(join(tmpdir(), 'baton-chromium-'));
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport,
    });
  } catch (err) {
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  return {
    page,
    errors,
    close: async () => {
      await context?.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** The artifacts directory, created. */
export async function artifacts(): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  return ARTIFACTS;
}
