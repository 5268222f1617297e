// Drives the web chat widget in headless Chromium, as a visitor would.
// usage: EXPECT_REPLY='…' [EXPECT_HTML_REPLY='…'] [FILE_NAME='…' FILE_BODY='…'] [CHROMIUM=/usr/bin/chromium] node webchat.mjs PAGE_URL
// Prints SENT, GOT_REPLY, RTL_OK, RELOAD_OK, ESCAPED_OK, FILE_OK (with FILE_NAME and FILE_BODY), OK, one per line as each step passes, and
// exits 0; on any failure prints `FAIL: reason` and exits 1. Diagnostics go to stderr.
import { chromium } from 'playwright-core'

const [pageUrl] = process.argv.slice(2)
const REPLY = process.env.EXPECT_REPLY
const HTML_REPLY = process.env.EXPECT_HTML_REPLY || '<img src=x onerror=alert(1)>'
const { FILE_NAME, FILE_BODY } = process.env
const PT = 'Olá, preciso de ajuda com meu pedido 🙂'
const AR = 'مرحبا، شكرا'

let browser
const say = (line) => process.stdout.write(line + '\n')
async function fail(reason) {
  say(`FAIL: ${String(reason).split('\n')[0]}`)
  await Promise.race([browser?.close(), new Promise((r) => setTimeout(r, 3000))]).catch(() => {})
  process.exit(1)
}
setTimeout(() => fail('timed out after 60 s'), 60_000)
if (!pageUrl) await fail('usage: node webchat.mjs PAGE_URL')
if (!REPLY) await fail('EXPECT_REPLY is not set')

// Bubbles as the page shows them.
const bubbles = (page) =>
  page.$$eval('#concierge-chat-messages .concierge-msg', (els) =>
    els.map((b) => ({
      id: b.getAttribute('data-id'),
      direction: b.getAttribute('data-direction'),
      text: (b.querySelector('.concierge-text') || b).textContent,
      dir: getComputedStyle(b).direction,
      imgs: b.querySelectorAll('img').length,
    })),
  )

// Waits until `test(bubbles)` is truthy; fails with `what` after `ms`.
async function until(page, what, ms, test) {
  const end = Date.now() + ms
  for (;;) {
    const found = test(await bubbles(page))
    if (found) return found
    if (Date.now() > end) await fail(`${what} (bubbles: ${JSON.stringify(await bubbles(page))})`)
    await page.waitForTimeout(100)
  }
}

async function openWidget(page) {
  await page.waitForSelector('#concierge-chat-toggle', { timeout: 15_000 })
  // The panel stays open across reloads of a tab; only click when it is closed.
  if (!(await page.isVisible('#concierge-chat-input'))) await page.click('#concierge-chat-toggle')
  await page.waitForSelector('#concierge-chat-input', { state: 'visible', timeout: 5_000 })
}

async function send(page, text) {
  await page.fill('#concierge-chat-input', text)
  await page.press('#concierge-chat-input', 'Enter')
  return until(page, `no id for the sent message ${JSON.stringify(text)}`, 15_000, (bs) =>
    bs.find((b) => b.direction === 'incoming' && b.text === text && b.id),
  )
}

try {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox'],
  })
  const page = await browser.newPage()
  const dialogs = []
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}) })
  page.on('console', (m) => process.stderr.write(`[console.${m.type()}] ${m.text()}\n`))
  const pageErrors = []
  page.on('pageerror', (e) => { pageErrors.push(e); process.stderr.write(`[pageerror] ${e.stack || e}\n`) })
  const widgetError = () => pageErrors.find((e) => String(e.stack).includes('widget.js'))

  await page.goto(pageUrl, { waitUntil: 'load', timeout: 15_000 })
  await openWidget(page)

  await send(page, PT)
  say('SENT')

  await until(page, `no agent reply containing ${JSON.stringify(REPLY)} within 30 s`, 30_000, (bs) =>
    bs.find((b) => b.direction === 'outgoing' && b.text.includes(REPLY)),
  )
  say('GOT_REPLY')

  const ar = await send(page, AR)
  if (ar.dir !== 'rtl') await fail(`the Arabic bubble has direction ${ar.dir}, not rtl`)
  say('RTL_OK')

  await page.reload({ waitUntil: 'load', timeout: 15_000 })
  await openWidget(page)
  await until(page, 'the history after reload lacks a message', 15_000, (bs) => {
    const i = bs.findIndex((b) => b.direction === 'incoming' && b.text === PT && b.id)
    const r = bs.findIndex((b) => b.direction === 'outgoing' && b.text.includes(REPLY))
    const a = bs.findIndex((b) => b.direction === 'incoming' && b.text === AR && b.id)
    return i >= 0 && r > i && a > r
  })
  say('RELOAD_OK')

  const html = await until(page, `no agent reply containing ${JSON.stringify(HTML_REPLY)}`, 20_000, (bs) =>
    bs.find((b) => b.direction === 'outgoing' && b.text.includes(HTML_REPLY)),
  )
  if (html.imgs) await fail('the HTML reply created an <img> in its bubble')
  const imgs = await page.$$eval('#concierge-chat img', (els) => els.length)
  if (imgs) await fail(`the widget holds ${imgs} <img> element(s)`)
  await page.waitForTimeout(300) // an onerror handler would have run by now
  if (dialogs.length) await fail(`a dialog opened: ${dialogs[0]}`)
  say('ESCAPED_OK')

  // A file the agent sent shows as a download link to it on the Concierge origin.
  if (FILE_NAME) {
    const link = page.locator('#concierge-chat-messages .concierge-msg[data-direction=outgoing] a', { hasText: FILE_NAME })
    await link.first().waitFor({ timeout: 20_000 })
    const href = await link.first().getAttribute('href')
    if (!new RegExp('/media/[0-9a-f]{32}/').test(href) || href.startsWith(new URL(pageUrl).origin + '/media'))
      await fail(`odd file link ${href}`)
    const got = await (await page.request.get(href)).text()
    if (got !== FILE_BODY) await fail(`the file link gave ${JSON.stringify(got)}`)
    say('FILE_OK')
  }

  const all = await bubbles(page)
  const ids = all.map((b) => b.id).filter(Boolean)
  if (new Set(ids).size !== ids.length) await fail(`a message is shown twice: ${JSON.stringify(all)}`)
  for (const t of [PT, AR]) {
    const n = all.filter((b) => b.text === t).length
    if (n !== 1) await fail(`${JSON.stringify(t)} is shown ${n} times`)
  }
  if (widgetError()) await fail(`widget.js threw: ${widgetError().message}`)
  await browser.close()
  say('OK')
  process.exit(0)
} catch (e) {
  await fail(e && e.message ? e.message : e)
}
