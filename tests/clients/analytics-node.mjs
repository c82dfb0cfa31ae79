// Drives the real @segment/analytics-node client through a gateway and prints, as one JSON line,
// every request the library sent (method, URL, headers, body), so the caller can compare them with
// what the upstream received.
//
// The `large` scenario sends one identify, 398 track events of about 1 KB and one page in a
// single flush, so the library posts a batch of about 420 KB (it splits batches at 480 KB).
//
// Usage: node analytics-node.mjs <gateway base URL> <write key> [small|large]
import { Analytics, FetchHTTPClient } from '@segment/analytics-node';

const [host, writeKey, scenario = 'small'] = process.argv.slice(2);
if (!host || !writeKey || !['small', 'large'].includes(scenario)) {
  console.error('usage: node analytics-node.mjs <gateway base URL> <write key> [small|large]');
  process.exit(2);
}

const sent = [];

/** Records each request exactly as the library hands it to fetch, then sends it unchanged. */
class RecordingHttpClient extends FetchHTTPClient {
  async makeRequest(options) {
    sent.push({ method: options.method, url: options.url, headers: options.headers, body: options.body });
    return super.makeRequest(options);
  }
}

const analytics = new Analytics({
  writeKey,
  host,
  flushAt: scenario === 'large' ? 500 : 10,
  flushInterval: 200,
  maxRetries: 0,
  httpClient: new RecordingHttpClient(),
});

if (scenario === 'small') {
  analytics.identify({
    userId: 'node-user-1',
    traits: { email: 'node.user@example.test', plan: 'team', createdAt: '2024-02-03T04:05:06.700Z', seats: 12 },
  });
  analytics.page({ userId: 'node-user-1', name: 'Pricing', properties: { url: 'https://app.example.test/pricing' }, timestamp: new Date('2024-05-01T12:00:00.000Z') });
  analytics.track({ userId: 'node-user-1', event: 'Report Exported', properties: { format: 'csv' } });
} else {
  const filler = 'x'.repeat(1000);
  analytics.identify({ userId: 'node-user-2', traits: { email: 'node.two@example.test', createdAt: 1700000000123, region: 'eu' } });
  for (let i = 0; i < 398; i++) {
    analytics.track({ userId: 'node-user-2', event: 'Row Imported', properties: { row: i, filler } });
  }
  analytics.page({ userId: 'node-user-2', name: 'Import', properties: { url: 'https://app.example.test/import' }, timestamp: new Date('2024-06-02T09:30:00.000Z') });
}

const failures = [];
analytics.on('error', (error) => failures.push(String(error?.reason ?? error)));

await analytics.closeAndFlush({ timeout: 30000 });
console.log(JSON.stringify({ sent, failures }));
