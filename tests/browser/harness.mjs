// Starts the real vanban binary on a free port with a fresh demo province, and headless
// Chromium from Debian. Later issues add their pages to the tests that use it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const DEMO_PASSWORD = 'vanban@2026';
export const SHOTS = join(ROOT, 'target', 'browser');

export function vanbanBinary() {
  const target = process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
  return process.env.VANBAN_BIN ?? join(target, 'debug', 'vanban');
}

/** Starts `vanban demo` on 127.0.0.1:0 and resolves with { url, stop }. */
export async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), 'vanban-e2e-'));
  const child = spawn(vanbanBinary(), ['demo', '--data-dir', dir, '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: 'warn' },
  });
  let output = '';
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`vanban did not start in 60 s:\n${output}`)), 60_000);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const m = output.match(/^vanban: (http:\/\/127\.0\.0\.1:\d+\/)$/m);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    child.stderr.on('data', (chunk) => { output += chunk; });
    child.on('exit', (code) => { clearTimeout(timer); fail(new Error(`vanban exited with ${code}:\n${output}`)); });
  });
  const stop = async () => {
    child.kill('SIGTERM');
    await new Promise((ok) => (child.exitCode !== null ? ok() : child.on('exit', ok)));
    rmSync(dir, { recursive: true, force: true });
  };
  return { url, stop, output: () => output };
}

export async function launchBrowser() {
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Signs in through the login form. */
export async function login(page, url, username, password = DEMO_PASSWORD) {
  await page.goto(new URL('/login', url).href);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
}
