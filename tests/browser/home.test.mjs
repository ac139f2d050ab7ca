// A demo clerk signs in through the real login page and sees the agency's home page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launchBrowser, login, SHOTS } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('a clerk signs in and sees the home page of the agency', async () => {
  const page = await browser.newPage();
  await login(page, server.url, 'vanthu');
  assert.equal(new URL(page.url()).pathname, '/');
  const agency = (await page.textContent('[data-testid=agency-name]')).trim();
  assert.equal(agency, 'Ủy ban nhân dân tỉnh Bình An');
  assert.equal(agency, agency.normalize('NFC'), 'the page text is NFC');
  assert.match(await page.textContent('main'), /Văn thư/);
  assert.match(await page.textContent('main'), /000\.00\.00\.H58/);
  await page.screenshot({ path: join(SHOTS, 'home-clerk.png'), fullPage: true });
  // The clerk is no administrator: the audit page refuses, in Vietnamese.
  const audit = await page.goto(new URL('/audit', server.url).href);
  assert.equal(audit.status(), 403);
  assert.match(await page.textContent('body'), /Bạn không có quyền thực hiện thao tác này/);
  // Signing out returns to the login page.
  await page.goto(server.url);
  await Promise.all([page.waitForURL('**/login'), page.click('text=Đăng xuất')]);
  await page.close();
});

test('a wrong password is refused with a Vietnamese message', async () => {
  const page = await browser.newPage();
  await login(page, server.url, 'vanthu', 'khong-dung');
  assert.equal(new URL(page.url()).pathname, '/login');
  assert.equal((await page.textContent('[data-testid=login-error]')).trim(), 'Tên đăng nhập hoặc mật khẩu không đúng.');
  await page.screenshot({ path: join(SHOTS, 'login-error.png') });
  await page.close();
});
