// Drives the real @segment/analytics-node client through a gateway and prints, as one JSON line,
// every request the library sent (method, URL, headers, body), so the caller can compare them with
// what the upstream received.
//
// Usage: node analytics-node.mjs <gateway base URL> <write key>
import { Analytics, FetchHTTPClient } from '@segment/analytics-node';

const [host, writeKey] = process.argv.slice(2);
if (!host || !writeKey) {
  console.error('usage: node analytics-node.mjs <gateway base URL> <write key>');
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
  flushAt: 10,
  flushInterval: 200,
  maxRetries: 0,
  httpClient: new RecordingHttpClient(),
});

analytics.identify({
  userId: 'node-user-1',
  traits: { email: 'node.user@example.test', plan: 'team', createdAt: '2024-02-03T04:05:06.700Z', seats: 12 },
});
analytics.page({ userId: 'node-user-1', name: 'Pricing', properties: { url: 'https://app.example.test/pricing' }, timestamp: new Date('2024-05-01T12:00:00.000Z') });
analytics.track({ userId: 'node-user-1', event: 'Report Exported', properties: { format: 'csv' } });

const failures = [];
analytics.on('error', (error) => failures.push(String(error?.reason ?? error)));

await analytics.closeAndFlush({ timeout: 10000 });
console.log(JSON.stringify({ sent, failures }));
