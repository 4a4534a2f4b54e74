// Browser scenario of a customer's right of access and erasure: a new Telegram customer writes;
// the admin (Ann) opens the conversation, downloads the contact's archive from the profile
// ("Export data": a JSON file with their messages), then erases them ("Erase contact…", confirmed
// by typing their name): the open conversation gives way to a neutral notice, the list no longer
// has them, and the server answers 404 for the contact and keeps only an audit record. It runs
// inside e2e/run.mjs (its server and browser), with the ctx of toolsScenarios; nothing here
// starts a server.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ERASURE_SCENARIOS = [
  "erasure: the admin exports a customer's data (a JSON download with their messages), then erases them after typing their name; the conversation gives way to a notice, the list and the API no longer have them",
];

const ERIN = { id: 5999, first_name: 'Erin', language_code: 'en' };
const TEXT = 'Please delete everything you hold about me.';

export async function erasureScenarios(ctx) {
  const { page, results, test, assert, postUpdate, agentApi } = ctx;
  await test(ERASURE_SCENARIOS[0], async () => {
    await postUpdate(TEXT, ERIN);
    await page.getByTestId('tab-all').click();
    const item = page.getByTestId('conversation-item').filter({ hasText: 'Erin' });
    await item.waitFor({ timeout: 5000 });
    await item.click();
    await page.getByTestId('message').filter({ hasText: TEXT }).waitFor({ timeout: 5000 });
    await page.getByTestId('profile').waitFor({ timeout: 5000 });

    // The archive, as a download.
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 5000 }),
      page.getByTestId('contact-export').click(),
    ]);
    assert(/^contact-ct_[0-9a-f]{32}\.json$/.test(download.suggestedFilename()), `saved as ${download.suggestedFilename()}`);
    const archive = JSON.parse(readFileSync(await download.path(), 'utf8'));
    assert(archive.format === 'omnidesk-contact-export/1', `format: ${archive.format}`);
    assert(archive.contact.display_name === 'Erin', `the contact: ${archive.contact.display_name}`);
    const texts = archive.conversations.flatMap((c) => c.messages.map((m) => m.text));
    assert(texts.includes(TEXT), `the archive has her message: ${JSON.stringify(texts)}`);
    const contactId = archive.contact.id;

    // The erasure asks for her name first.
    await page.getByTestId('contact-erase').click();
    await page.getByTestId('erase-dialog').waitFor({ timeout: 2000 });
    const go = page.getByTestId('erase-do');
    assert(await go.isDisabled(), 'nothing can be erased before the name is typed');
    await page.getByTestId('erase-input').fill('Eri');
    assert(await go.isDisabled(), 'a part of the name is not enough');
    await page.getByTestId('erase-input').fill('Erin');
    assert(await go.isEnabled(), 'her name enables it');
    await page.screenshot({ path: join(results, '60-erase-dialog.png') });
    await go.click();
    await page.getByTestId('conversation-erased').waitFor({ timeout: 5000 });
    await page.getByTestId('erase-done').waitFor({ timeout: 5000 });
    await page.screenshot({ path: join(results, '61-contact-erased.png') });
    assert((await item.count()) === 0, 'the list no longer has her');

    const contact = await agentApi('GET', `/api/v1/contacts/${contactId}`);
    assert(contact.status === 404, `the contact answers ${contact.status}`);
    const audit = await agentApi('GET', '/api/v1/audit');
    const record = audit.body.items.find((e) => e.action === 'contact_erased' && e.target === contactId);
    assert(record, 'the audit log records the erasure');
    assert(!JSON.stringify(audit.body).includes(TEXT), 'and nothing she wrote');
  });
}
