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

test('the agency directory filters as one types, with or without diacritics', async () => {
  const page = await browser.newPage();
  await login(page, server.url, 'admin');
  await page.goto(new URL('/agencies', server.url).href);
  const rows = page.locator('[data-testid=agency-table] tbody tr');
  const all = await rows.count();
  assert.ok(all >= 10, `${all} agencies in the demo`);
  // htmx swaps the table in place: no navigation, just fewer rows.
  await page.fill('input[name=q]', 'so tai chinh');
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=agency-table] tbody tr').length < n, all);
  assert.equal(await rows.count(), 1);
  assert.equal((await rows.first().locator('td').first().textContent()).trim(), 'Sở Tài chính');
  assert.match(new URL(page.url()).search, /q=so\+tai\+chinh|q=so%20tai%20chinh/);
  await page.screenshot({ path: join(SHOTS, 'agencies-search.png') });
  await page.close();
});

test('a specialist drafts a công văn, a leader approves it, and the PDF is there', async () => {
  const page = await browser.newPage();
  await login(page, server.url, 'chuyenvien');
  await page.goto(new URL('/documents', server.url).href);
  await page.fill('textarea[name=subject]', 'V/v triển khai thực hiện Nghị định số 30/2020/NĐ-CP về công tác văn thư');
  await page.selectOption('select[name=priority]', '2');
  await Promise.all([page.waitForURL(/\/documents\/[0-9a-f-]{36}$/), page.click('button:text("Tạo dự thảo")')]);
  const docUrl = page.url();
  assert.equal((await page.textContent('[data-testid=document-state]')).trim(), 'Dự thảo');
  // Write the content in the editor and save the first version.
  await page.fill('[data-testid=editor] textarea[name=addressees]', 'Các sở, ban, ngành tỉnh');
  await page.fill('[data-testid=editor] input[name=unit_abbreviation]', 'VP');
  await page.fill('[data-testid=editor] textarea[name=body]',
    'Thực hiện **Nghị định số 30/2020/NĐ-CP**, Ủy ban nhân dân tỉnh đề nghị:\n\n- Rà soát quy chế công tác văn thư;\n- Báo cáo trước ngày 20/12/2026.');
  await page.fill('[data-testid=editor] textarea[name=recipients]', 'Như trên;\nLưu trữ lịch sử tỉnh;');
  // The Chairman (lanhdao) signs: the draft names him.
  const signers = await page.$$eval('select[name=signer_user] option', (os) => os.map((o) => [o.value, o.textContent.trim()]));
  const chairman = signers.find(([, label]) => /— Chủ tịch$/.test(label));
  assert.ok(chairman, `a Chủ tịch among ${JSON.stringify(signers)}`);
  await page.selectOption('select[name=signer_user]', chairman[0]);
  await Promise.all([page.waitForLoadState('load'), page.click('button:text("Lưu phiên bản")')]);
  assert.match(await page.textContent('[data-testid=notice]'), /Đã lưu phiên bản mới/);
  assert.equal(await page.locator('[data-testid=version-table] tbody tr').count(), 1);
  // The version's PDF, as the preview frame loads it.
  const pdfUrl = new URL(await page.getAttribute('[data-testid=version-table] a', 'href'), server.url).href;
  const pdf = await page.request.get(pdfUrl);
  assert.equal(pdf.status(), 200);
  assert.equal(pdf.headers()['content-type'], 'application/pdf');
  assert.equal((await pdf.body()).subarray(0, 5).toString(), '%PDF-');
  await page.screenshot({ path: join(SHOTS, 'document-draft.png'), fullPage: true });
  await Promise.all([page.waitForLoadState('load'), page.click('button:text("Trình duyệt")')]);
  assert.equal((await page.textContent('[data-testid=document-state]')).trim(), 'Đang xem xét');
  await page.context().clearCookies();
  await login(page, server.url, 'lanhdao');
  await page.goto(docUrl);
  await Promise.all([page.waitForLoadState('load'), page.click('button:text("Duyệt")')]);
  assert.equal((await page.textContent('[data-testid=document-state]')).trim(), 'Đã duyệt');
  assert.match(await page.textContent('[data-testid=notice]'), /Đã cập nhật trạng thái văn bản/);
  const approvedPdf = await page.request.get(pdfUrl);
  assert.equal(approvedPdf.status(), 200, 'the leader sees the PDF too');
  await page.screenshot({ path: join(SHOTS, 'document-approved.png') });
  // The leader signs on the page with the PIN of the demo certificate: a wrong PIN first.
  await page.waitForSelector('[data-testid=sign-form]');
  await page.fill('[data-testid=sign-form] input[name=pin]', '000000');
  await Promise.all([page.waitForLoadState('load'), page.click('[data-testid=sign-form] button')]);
  assert.match(await page.textContent('[data-testid=notice]'), /Mã PIN không đúng/);
  assert.equal((await page.textContent('[data-testid=document-state]')).trim(), 'Đã duyệt');
  await page.waitForSelector('[data-testid=sign-form]');
  await page.fill('[data-testid=sign-form] input[name=pin]', '123456');
  await Promise.all([page.waitForLoadState('load'), page.click('[data-testid=sign-form] button')]);
  assert.match(await page.textContent('[data-testid=notice]'), /Đã ký số văn bản/);
  assert.equal((await page.textContent('[data-testid=document-state]')).trim(), 'Đã ký');
  await page.waitForSelector('[data-testid=signature-verdict]');
  assert.match(await page.textContent('[data-testid=signature-verdict]'), /^Hợp lệ/);
  assert.match(await page.textContent('[data-testid=signature-table]'), /Chữ ký số/);
  const signedUrl = new URL(await page.getAttribute('[data-testid=signed-pdf]', 'href'), server.url).href;
  const signed = await page.request.get(signedUrl);
  assert.equal(signed.status(), 200);
  assert.equal(signed.headers()['content-type'], 'application/pdf');
  assert.ok((await signed.body()).includes('ETSI.CAdES.detached'), 'a PAdES signature');
  await page.waitForTimeout(1500);
  await page.screenshot({ path: join(SHOTS, 'document-signed.png'), fullPage: true });
  // A leader signs on a phone too: the page fits a phone's width, the PIN form included.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(docUrl);
  await page.waitForSelector('[data-testid=signature-verdict]');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than a phone`);
  await page.screenshot({ path: join(SHOTS, 'document-signed-phone.png'), fullPage: true });
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
