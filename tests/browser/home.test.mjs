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
  // On a phone (390 px), the search field and its button fit: the page is no wider.
  await page.setViewportSize({ width: 390, height: 844 });
  const widths = await page.evaluate(() => [document.documentElement.scrollWidth, document.querySelector('form[role=search]').getBoundingClientRect().right]);
  assert.ok(widths[1] <= 390, `the search form ends at ${widths[1]} px`);
  // The menu folds behind a button: the header leaves the screen to the page, and opens on a tap.
  const header = () => page.evaluate(() => document.querySelector('header.top').getBoundingClientRect().height);
  const folded = await header();
  assert.ok(folded <= 150, `the folded header (245–277 px unfolded) is ${folded} px tall`);
  assert.equal(await page.isVisible('#menu a[href="/incoming"]'), false);
  await page.click('[data-testid=menu-toggle]');
  assert.equal(await page.isVisible('#menu a[href="/incoming"]'), true);
  assert.equal(await page.getAttribute('[data-testid=menu-toggle]', 'aria-expanded'), 'true');
  await Promise.all([page.waitForURL(/\/incoming$/), page.click('#menu a[href="/incoming"]')]);
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

test('a signed document is issued to two departments, and one of them handles it to the end', async () => {
  const text = async (page, sel) => (await page.textContent(sel)).trim();
  const go = (page, path) => page.goto(new URL(path, server.url).href);
  // Clicks a form's button and waits for the page it leads to (`?done=…` after success).
  // A form the page refuses comes back with its error on top: the test says which.
  const post = async (page, sel, url) => {
    try {
      await Promise.all([page.waitForURL(url, { timeout: 60_000 }), page.click(sel)]);
    } catch (e) {
      const notice = await page.locator('[data-testid=notice]').textContent({ timeout: 1000 }).catch(() => null);
      throw new Error(`${sel} on ${page.url()}: ${notice?.trim() ?? e.message}`);
    }
  };
  const done = (code) => (u) => u.searchParams.get('done') === code;
  const pages = [];
  const as = async (username) => {
    const page = await browser.newPage();
    pages.push(page);
    await login(page, server.url, username);
    assert.equal(new URL(page.url()).pathname, '/', `${username} is signed in`);
    return page;
  };
  try {
    // 1. The Chairman signs one of the approved documents the demo left for him (the
    // others name the Vice-Chairman, and only the named signer may sign).
    const leader = await as('lanhdao');
    await go(leader, '/documents?state=approved');
    const approved = await leader.$$eval('[data-testid=document-table] tbody a', (links) => links.map((a) => a.getAttribute('href')));
    assert.ok(approved.length >= 1, 'the demo has approved documents');
    let docPath;
    for (const href of approved) {
      await go(leader, href);
      await leader.waitForSelector('[data-testid=signing-panel]');
      // A document naming another signer says so and offers no form.
      if (await leader.locator('[data-testid=not-named-signer]').count()) {
        assert.equal(await leader.locator('[data-testid=sign-form]').count(), 0);
        continue;
      }
      await leader.waitForSelector('[data-testid=sign-form]');
      await leader.fill('[data-testid=sign-form] input[name=pin]', '123456');
      // Signed: back to the page with a confirmation; refused: the page again, from the form's URL.
      await post(leader, '[data-testid=sign-form] button', (u) => done('signed')(u) || u.pathname.endsWith('/sign'));
      const notice = await text(leader, '[data-testid=notice]');
      if (/Đã ký số văn bản/.test(notice)) { docPath = href; break; }
      assert.match(notice, /^Văn bản ghi người ký là .+; chỉ người có tên trong văn bản được ký\.$/);
      assert.equal(await text(leader, '[data-testid=document-state]'), 'Đã duyệt');
    }
    assert.ok(docPath, `lanhdao may sign one of ${approved.length} approved documents`);
    const docId = docPath.split('/').pop();
    assert.equal(await text(leader, '[data-testid=document-state]'), 'Đã ký');
    const subject = await text(leader, '[data-testid=document-subject]');
    await leader.waitForSelector('[data-testid=signature-verdict]');
    assert.match(await leader.textContent('[data-testid=signature-verdict]'), /^Hợp lệ/);

    // 2. The clerk numbers it and sends it to the Sở Tài chính and the Sở Nội vụ.
    const clerk = await as('vanthu');
    await go(clerk, '/issuing');
    const row = clerk.locator(`[data-testid=issue-row]:has(a[href="/documents/${docId}"])`);
    assert.equal(await row.count(), 1, 'the signed document waits at the issuing desk');
    assert.equal((await row.locator('[data-testid=issue-link]').textContent()).trim(), 'Cấp số và ban hành');
    await Promise.all([clerk.waitForURL(`**/documents/${docId}/issue`), row.locator('[data-testid=issue-link]').click()]);
    assert.ok((await clerk.textContent('main')).includes(subject), 'the form names the document');
    const choices = await clerk.$$eval('[data-testid=issue-form] .checklist label', (ls) =>
      ls.map((l) => { const code = l.querySelector('input').value; return [code, l.textContent.replace(code, '').trim()]; }));
    const codeOf = (name) => {
      const found = choices.filter(([, n]) => n === name);
      assert.equal(found.length, 1, `${name} once among the recipients`);
      return found[0][0];
    };
    // The agencies the document names come ticked; this test sends it to two others instead.
    const ticked = await clerk.$$eval('[data-testid=issue-form] .checklist input:checked', (is) => is.map((i) => i.value));
    const named = ticked.length ? await text(clerk, '[data-testid=named-recipients]') : '';
    for (const code of ticked) {
      const name = choices.find(([c]) => c === code)[1];
      assert.ok(named.includes(name), `${name} is ticked because the document names it: ${named}`);
      await clerk.uncheck(`[data-testid="recipient-${code}"]`);
    }
    const stc = codeOf('Sở Tài chính');
    const snv = codeOf('Sở Nội vụ');
    await clerk.check(`[data-testid="recipient-${stc}"]`);
    await clerk.check(`[data-testid="recipient-${snv}"]`);
    await clerk.fill('[data-testid=issue-pin]', '123456');
    await clerk.screenshot({ path: join(SHOTS, 'issue-form.png'), fullPage: true });
    await post(clerk, '[data-testid=issue-button]', (u) => u.pathname === `/documents/${docId}/tracking` && done('issued')(u));
    assert.match(await text(clerk, '[data-testid=notice]'), /Đã cấp số, đóng dấu số và ban hành văn bản/);
    const symbol = await text(clerk, '[data-testid=tracking-symbol]');
    assert.match(symbol, /^\d+\/[A-ZĐ]+(-[A-ZĐ]+)+$/);
    const tracking = async (page) => Object.fromEntries(await page.$$eval('[data-testid=tracking-row]', (rs) =>
      rs.map((r) => [r.cells[0].textContent.trim(), r.querySelector('[data-testid=tracking-status]').textContent.trim()])));
    assert.deepEqual(await tracking(clerk), { 'Sở Tài chính': 'Đã đến', 'Sở Nội vụ': 'Đã đến' });

    // 3. The Sở Tài chính's clerk registers it; its Director gives it to a specialist.
    const handler = await as('stc.chuyenvien');
    const handlerName = await text(handler, '[data-testid=current-user]');
    const incomingRow = async (page) => {
      await go(page, '/incoming');
      const rows = await page.$$eval('[data-testid=incoming-row]', (rs) => rs.map((r) =>
        ({ symbol: r.cells[1].textContent.trim(), sender: r.cells[2].textContent.trim(), href: r.querySelector('a').getAttribute('href'), state: r.cells[5].textContent.trim() })));
      const mine = rows.filter((r) => r.symbol === symbol);
      assert.equal(mine.length, 1, `${symbol} once in the incoming list of ${await text(page, '[data-testid=current-user]')}`);
      assert.equal(mine[0].sender, 'Ủy ban nhân dân tỉnh Bình An');
      return mine[0];
    };
    const stcClerk = await as('stc.vanthu');
    const arrived = await incomingRow(stcClerk);
    assert.equal(arrived.state, 'Đã đến');
    await Promise.all([stcClerk.waitForURL(`**${arrived.href}`), stcClerk.click(`[data-testid=incoming-row] a[href="${arrived.href}"]`)]);
    assert.equal(await text(stcClerk, '[data-testid=incoming-state]'), 'Đã đến');
    assert.equal(await text(stcClerk, '[data-testid=arrival-number]'), '');
    await post(stcClerk, '[data-testid=register-button]', done('registered'));
    assert.match(await text(stcClerk, '[data-testid=notice]'), /Đã vào sổ văn bản đến/);
    assert.equal(await text(stcClerk, '[data-testid=incoming-state]'), 'Đã tiếp nhận');
    assert.match(await text(stcClerk, '[data-testid=arrival-number]'), /^\d{2,}\/\d{4}$/);

    const director = await as('stc.lanhdao');
    await go(director, arrived.href);
    const leads = await director.$$eval('[data-testid=assign-lead] option', (os) => os.map((o) => [o.value, o.textContent.trim()]));
    // Each person is named with their position ("Name — Chuyên viên").
    const lead = leads.filter(([, name]) => name === handlerName || name.startsWith(`${handlerName} — `));
    assert.equal(lead.length, 1, `${handlerName} once among ${leads.length - 1} people`);
    await director.selectOption('[data-testid=assign-lead]', lead[0][0]);
    // A week from today, in Vietnam (UTC+7).
    const deadline = new Date(Date.now() + 7 * 86_400_000 + 7 * 3_600_000).toISOString().slice(0, 10);
    await director.fill('[data-testid=assign-deadline]', deadline);
    await post(director, '[data-testid=assign-button]', done('assigned'));
    assert.match(await text(director, '[data-testid=notice]'), /Đã phân công xử lý/);
    assert.equal(await text(director, '[data-testid=incoming-state]'), 'Đã phân công');
    const dmy = deadline.split('-').reverse().join('/');
    assert.match(await director.textContent('[data-testid=assignments]'), new RegExp(`${handlerName}, hạn ${dmy}`));
    await director.screenshot({ path: join(SHOTS, 'incoming-assigned.png'), fullPage: true });

    // 4. The specialist works on it and finishes.
    const assigned = await incomingRow(handler);
    assert.equal(assigned.state, 'Đã phân công');
    await Promise.all([handler.waitForURL(`**${assigned.href}`), handler.click(`[data-testid=incoming-row] a[href="${assigned.href}"]`)]);
    await post(handler, '[data-testid=start-button]', done('started'));
    assert.equal(await text(handler, '[data-testid=incoming-state]'), 'Đang xử lý');
    const result = 'Đã tham mưu Giám đốc Sở chỉ đạo các phòng triển khai thực hiện.';
    await handler.fill('[data-testid=finish-note]', result);
    await post(handler, '[data-testid=finish-button]', done('finished'));
    assert.match(await text(handler, '[data-testid=notice]'), /Đã hoàn thành xử lý/);
    assert.equal(await text(handler, '[data-testid=incoming-state]'), 'Hoàn thành');
    assert.match(await handler.textContent('main'), new RegExp(result));
    await handler.screenshot({ path: join(SHOTS, 'incoming-done.png'), fullPage: true });

    // 5. Back at the UBND, the clerk sees "Hoàn thành" from the Sở Tài chính only.
    await go(clerk, `/documents/${docId}/tracking`);
    assert.equal(await text(clerk, '[data-testid=tracking-symbol]'), symbol);
    assert.deepEqual(await tracking(clerk), { 'Sở Tài chính': 'Hoàn thành', 'Sở Nội vụ': 'Đã đến' });
    const shown = await clerk.textContent('body');
    assert.equal(shown, shown.normalize('NFC'), 'the tracking page is NFC');
    await clerk.screenshot({ path: join(SHOTS, 'tracking-done.png'), fullPage: true });
    await clerk.setViewportSize({ width: 390, height: 844 });
    await go(clerk, `/documents/${docId}/tracking`);
    const overflow = await clerk.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the tracking page is ${overflow}px wider than a phone`);
    await clerk.screenshot({ path: join(SHOTS, 'tracking-done-phone.png'), fullPage: true });
  } finally {
    for (const p of pages) await p.close();
  }
});
