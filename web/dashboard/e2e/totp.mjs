// Browser scenario of two-factor sign-in: a throwaway admin signs in, turns TOTP on from the
// account menu (the key shown in blocks; a code computed here as an authenticator app would,
// RFC 6238), signs out, and signs in again: password, then the code step. It runs inside
// e2e/run.mjs (its server and browser) with the ctx of toolsScenarios plus `admin`; nothing
// here starts a server.

import { createHmac } from 'node:crypto';
import { join } from 'node:path';

export const TOTP_SCENARIOS = [
  'two-factor sign-in: an admin turns it on from the account menu with a code of the key shown; signing in again asks for the code after the password',
];

const TARA = { email: 'tara-2fa@example.com', name: 'Tara Twofactor', password: 'tara two factor secret' };

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/[\s=]/g, '').toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** The code of `secret` at `ms` (what an authenticator app shows then). */
export function totpCode(secret, ms) {
  const step = Buffer.alloc(8);
  step.writeBigUInt64BE(BigInt(Math.floor(ms / 30000)));
  const mac = createHmac('sha1', base32Decode(secret)).update(step).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const n = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3];
  return String(n % 1_000_000).padStart(6, '0');
}

export async function totpScenarios(ctx) {
  const { browser, base, results, test, assert } = ctx;
  await test(TOTP_SCENARIOS[0], async () => {
    ctx.admin(['agent', 'add', '--email', TARA.email, '--name', TARA.name, '--password', TARA.password, '--role', 'admin']);
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    await ctx.watchCsp?.(context, 'two-factor');
    try {
      const p = await context.newPage();
      p.on('pageerror', (e) => ctx.pageErrors.push(`[two-factor] ${e}`));
      const signIn = async () => {
        await p.getByTestId('email').fill(TARA.email);
        await p.getByTestId('password').fill(TARA.password);
        await p.getByTestId('login').click();
      };
      await p.goto(base);
      await signIn();
      await p.getByTestId('account').waitFor({ timeout: 5000 });

      // Turn it on.
      await p.getByTestId('account').click();
      await p.getByTestId('totp-admin-hint').waitFor({ timeout: 2000 });
      await p.getByTestId('totp-open').click();
      await p.getByTestId('totp-password').fill(TARA.password);
      await p.getByTestId('totp-start').click();
      const shown = await p.getByTestId('totp-secret').textContent({ timeout: 5000 });
      assert(/^([A-Z2-7]{1,4} )*[A-Z2-7]{1,4}$/.test(shown), `the key in blocks of 4: ${shown}`);
      const secret = shown.replace(/\s/g, '');
      assert(secret.length === 32, `a 160-bit key: ${secret}`);
      assert((await p.getByTestId('totp-link').getAttribute('href')).startsWith('otpauth://totp/omnidesk:'), 'an otpauth link');
      await p.screenshot({ path: join(results, '67-totp-setup.png') });
      await p.getByTestId('totp-confirm-code').fill(totpCode(secret, Date.now()));
      await p.getByTestId('totp-enable').click();
      await p.getByTestId('totp-on').waitFor({ timeout: 5000 });
      await p.getByTestId('totp-close').click();

      // Sign out and in again: the password, then the code (the next step's: the one that
      // confirmed is spent, and one step of drift is allowed).
      await p.getByTestId('account').click();
      await p.getByTestId('logout').click();
      await p.getByTestId('signed-out').waitFor({ timeout: 5000 });
      await signIn();
      await p.locator('[data-testid="login-form"][data-step="code"]').waitFor({ timeout: 5000 });
      await p.screenshot({ path: join(results, '68-totp-code-step.png') });
      await p.getByTestId('totp-code').fill(totpCode(secret, Date.now() + 30000));
      const answered = p.waitForResponse((r) => r.url().endsWith('/api/v1/auth/login'));
      await p.getByTestId('totp-verify').click();
      assert((await answered).status() === 200, 'the code signs in');
      await p.getByTestId('account').waitFor({ timeout: 5000 });
    } finally {
      await context.close();
    }
  });
}
