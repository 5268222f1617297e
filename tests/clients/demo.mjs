// Signs in to a running demo as its supervisor and as an agent, in headless Chromium.
// usage: SUPERVISOR=email:password AGENT=email:password SHOTS=dir [CHROMIUM=…] node demo.mjs BASE_URL
// Prints DASHBOARD_OK, DRILL_OK, INBOX_OK, CONVERSATION_OK, OK one per line as each step passes;
// on any failure prints `FAIL: reason` and exits 1.
import { chromium } from 'playwright-core'

const [base] = process.argv.slice(2)
const { SUPERVISOR, AGENT, SHOTS } = process.env
let browser
const say = (line) => process.stdout.write(line + '\n')
async function fail(reason) {
  say(`FAIL: ${String(reason).split('\n')[0]}`)
  await Promise.race([browser?.close(), new Promise((r) => setTimeout(r, 3000))]).catch(() => {})
  process.exit(1)
}
setTimeout(() => fail('timed out after 90 s'), 90_000)

async function signIn(page, who) {
  const [email, password] = who.split(':')
  await page.goto(base + '/login')
  await page.fill('input[name=email]', email)
  await page.fill('input[name=password]', password)
  await Promise.all([page.waitForURL(base + '/app'), page.click('button[type=submit]')])
}

try {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  })
  const errors = []
  const context = await browser.newContext({ locale: 'pt-BR', viewport: { width: 1280, height: 900 } })
  const page = await context.newPage()
  page.on('pageerror', (e) => errors.push(e.message))
  page.on('dialog', (d) => fail(`a dialog opened: ${d.message()}`))
  await signIn(page, SUPERVISOR)
  await page.goto(base + '/app/dashboard?days=30')
  const charts = await page.$$eval('svg.chart', (svgs) =>
    svgs.map((s) => ({ bars: s.querySelectorAll('rect').length, box: s.getBoundingClientRect().height })),
  )
  if (charts.length < 4) await fail(`expected at least 4 charts, saw ${charts.length}`)
  if (charts.some((c) => c.bars === 0 || c.box < 20)) await fail(`an empty chart: ${JSON.stringify(charts)}`)
  const cards = await page.$$eval('.card .number', (els) => els.map((e) => e.textContent))
  if (cards.length < 6 || cards[0] === '0') await fail(`indicator cards: ${JSON.stringify(cards)}`)
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/dashboard.png`, fullPage: true })
  say('DASHBOARD_OK')

  // A number drills down to the conversations behind it: the WhatsApp bar.
  const bar = page.locator('svg.chart a[href*="m=channel&k=whatsapp"]').first()
  const expected = Number(await bar.locator('text.value').textContent())
  await Promise.all([page.waitForURL(/\/app\/dashboard\/list/), bar.click()])
  const rows = await page.$$eval('#drill tbody tr', (r) => r.length)
  if (rows !== expected) await fail(`the WhatsApp bar says ${expected}, the list has ${rows}`)
  say('DRILL_OK')

  const agent = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } })
  const ap = await agent.newPage()
  ap.on('pageerror', (e) => errors.push(e.message))
  await signIn(ap, AGENT)
  const inboxRows = await ap.$$eval('#inbox tbody tr', (r) => r.length)
  const badges = await ap.$$eval('#inbox .sla', (b) => b.length)
  if (inboxRows < 50 || badges === 0) await fail(`inbox rows ${inboxRows}, SLA badges ${badges}`)
  if (SHOTS) await ap.screenshot({ path: `${SHOTS}/demo-inbox.png` })
  // An agent may not see the indicators.
  const r = await ap.goto(base + '/app/dashboard')
  if (r.status() !== 403) await fail(`an agent opened the dashboard: ${r.status()}`)
  if (!(await ap.content()).includes('error-page')) await fail('the refusal is not an HTML page')
  say('INBOX_OK')

  await ap.goto(base + '/app?view=mine')
  await ap.keyboard.press('j')
  await Promise.all([ap.waitForURL(/\/app\/c\/\d+$/), ap.keyboard.press('Enter')])
  await ap.locator('#head').waitFor()
  const notes = await ap.$$eval('#messages .msg.note', (n) => n.length)
  if (notes === 0) await fail('the handoff summary note is missing')
  if (SHOTS) await ap.screenshot({ path: `${SHOTS}/demo-conversation.png`, fullPage: true })
  say('CONVERSATION_OK')
  if (errors.length) await fail(`page errors: ${errors.join('; ')}`)
  await browser.close()
  say('OK')
  process.exit(0)
} catch (e) {
  await fail(e)
}
