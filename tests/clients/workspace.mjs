// Drives the agent workspace in headless Chromium, as an agent would.
// usage: EMAIL=… PASSWORD=… CONTACT=… EVIL=… REPLY=… FILE_NAME=… FILE_BODY=… CAPTION=… SHOTS=dir [CHROMIUM=/usr/bin/chromium] node workspace.mjs BASE_URL
// Prints SIGNED_IN, LIVE_OK, ESCAPED_OK, ASSIGNED_LIVE, REPLIED, FILE_REFUSED, FILE_SENT, RESOLVED, OK one per line as each step passes
// (after ESCAPED_OK the test assigns the conversation to the agent through the API)
// and exits 0; on any failure prints `FAIL: reason` and exits 1. Diagnostics go to stderr.
import { chromium } from 'playwright-core'

const [base] = process.argv.slice(2)
const { EMAIL, PASSWORD, CONTACT, EVIL, REPLY, SHOTS, FILE_NAME, FILE_BODY, CAPTION } = process.env
let browser
const say = (line) => process.stdout.write(line + '\n')
async function fail(reason) {
  say(`FAIL: ${String(reason).split('\n')[0]}`)
  await Promise.race([browser?.close(), new Promise((r) => setTimeout(r, 3000))]).catch(() => {})
  process.exit(1)
}
setTimeout(() => fail('timed out after 90 s'), 90_000)

try {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  })
  const page = await browser.newPage({ locale: 'pt-BR', viewport: { width: 1280, height: 800 } })
  // A customer's script running in the agent's page would open a dialog.
  page.on('dialog', (d) => fail(`a dialog opened: ${d.message()}`))
  page.on('pageerror', (e) => console.error('page error:', e.message))

  await page.goto(base + '/login')
  await page.fill('input[name=email]', EMAIL)
  await page.fill('input[name=password]', PASSWORD)
  await Promise.all([page.waitForURL(base + '/app'), page.click('button[type=submit]')])
  say('SIGNED_IN')

  // The test now sends a WhatsApp message; the inbox shows it without anyone reloading.
  const row = page.locator('#inbox a', { hasText: CONTACT })
  await row.first().waitFor({ timeout: 30_000 })
  say('LIVE_OK')

  const cells = await page.$$eval('#inbox tbody tr', (rows) =>
    rows.map((r) => ({ text: r.textContent, imgs: r.querySelectorAll('img, script').length })),
  )
  const evilRow = cells.find((c) => c.text.includes(EVIL))
  if (!evilRow) await fail(`the message is not shown as text: ${JSON.stringify(cells)}`)
  if (evilRow.imgs !== 0) await fail('customer HTML became elements')
  say('ESCAPED_OK')
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/inbox.png`, fullPage: true })

  // An assignment made elsewhere shows in the open inbox without a reload.
  await page.locator('#inbox tbody tr', { hasText: EMAIL }).first().waitFor({ timeout: 30_000 })
  say('ASSIGNED_LIVE')

  await Promise.all([page.waitForURL(/\/app\/c\/\d+$/), row.first().click()])
  const shown = await page.$$eval('#messages .text', (els) => els.map((e) => e.textContent))
  if (!shown.includes(EVIL)) await fail(`thread lacks the message as text: ${JSON.stringify(shown)}`)
  if ((await page.$$('#messages img, #messages script')).length) await fail('HTML in the thread')
  await page.fill('form.reply textarea', REPLY)
  await Promise.all([page.waitForLoadState('load'), page.click('form.reply button[type=submit]')])
  await page.locator('#messages .msg.out .text', { hasText: REPLY }).waitFor({ timeout: 10_000 })
  say('REPLIED')

  // A file that is not what its name says is refused, with the reason, and nothing is sent.
  await page.setInputFiles('form.reply input[type=file]', {
    name: 'boleto.pdf', mimeType: 'application/pdf', buffer: Buffer.from('<html><script>alert(3)</script></html>'),
  })
  await Promise.all([page.waitForLoadState('load'), page.click('form.reply button[type=submit]')])
  const refusal = await page.locator('p.error[role=alert]').textContent({ timeout: 10_000 })
  if (!/can't be sent|can.t be sent/.test(refusal)) await fail(`no clear refusal: ${refusal}`)
  say('FILE_REFUSED')
  // A real PDF with a line of text goes out as one message, the text as its caption, and shows
  // in the thread with its name.
  await page.fill('form.reply textarea', CAPTION)
  await page.setInputFiles('form.reply input[type=file]', {
    name: FILE_NAME, mimeType: 'application/pdf', buffer: Buffer.from(FILE_BODY),
  })
  await Promise.all([page.waitForURL(/\/app\/c\/\d+$/), page.click('form.reply button[type=submit]')])
  const link = page.locator('#messages .msg.out a.attachment', { hasText: FILE_NAME })
  await link.waitFor({ timeout: 10_000 })
  const href = await link.getAttribute('href')
  if (!/^\/app\/files\/[0-9a-f]{32}\//.test(href)) await fail(`odd attachment link ${href}`)
  const got = await (await page.request.get(new URL(href, page.url()).href)).text()
  if (got !== FILE_BODY) await fail(`the file link gave ${JSON.stringify(got)}`)
  const bubble = await page.locator('#messages .msg.out', { has: page.locator('a.attachment', { hasText: FILE_NAME }) }).textContent()
  if (!bubble.includes(CAPTION)) await fail(`the caption is not with the file: ${bubble}`)
  say('FILE_SENT')
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/conversation.png`, fullPage: true })

  // Keyboard: Escape leaves the reply box, `e` resolves.
  await page.locator('#head[data-status=open]').waitFor({ timeout: 10_000 })
  await page.keyboard.press('Escape')
  await page.keyboard.press('e')
  await page.locator('#head[data-status=resolved]').waitFor({ timeout: 10_000 })
  say('RESOLVED')
  await browser.close()
  say('OK')
  process.exit(0)
} catch (e) {
  await fail(e)
}
