// Drives the official @segment/analytics-node client against Concierge.
// usage: node segment_node.mjs HOST WRITE_KEY RUN_ID — exits 1 if the client reported an error.
import { Analytics } from '@segment/analytics-node'

const [host, writeKey, run] = process.argv.slice(2)
const errors = []
const analytics = new Analytics({ writeKey, host, flushAt: 3, maxRetries: 2 })
analytics.on('error', (e) => errors.push(String(e && (e.reason || e.message || e.code) || e)))
const userId = `node-user-${run}`
const anonymousId = `node-anon-${run}`
analytics.identify({ userId, anonymousId, traits: { email: `node.${run}@example.com`, phone: '+55 21 98765-4321' } })
analytics.track({ userId, event: 'Product Viewed', properties: { sku: 'SKU-1', price: 59.9 } })
analytics.page({ userId, name: 'Home', properties: { url: 'https://loja.example/' } })
analytics.screen({ userId, name: 'Cart' })
analytics.group({ userId, groupId: `g-${run}`, traits: { name: 'ACME' } })
analytics.alias({ userId, previousId: `node-old-${run}` })
await analytics.closeAndFlush({ timeout: 20000 })
if (errors.length) {
  console.log('client errors:', errors)
  process.exit(1)
}
console.log('sent 6 calls')
