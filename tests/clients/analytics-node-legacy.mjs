// Drives the legacy `analytics-node` package (the deprecated classic Segment Node library) through a
// recording relay and the gateway, and prints as one JSON line every request it sent. It sends one
// small flush (identify, page, track) and then one large batch of about 400 KB, which the library
// posts in a single request because it flushes at 450 KB or `flushAt` events.
//
// Usage: node analytics-node-legacy.mjs <gateway base URL> <write key>
import Analytics from 'analytics-node';
import { createRequire } from 'node:module';
import { startRecordingRelay } from './recording-relay.mjs';

const [gatewayBase, writeKey] = process.argv.slice(2);
if (!gatewayBase || !writeKey) {
  console.error('usage: node analytics-node-legacy.mjs <gateway base URL> <write key>');
  process.exit(2);
}

const libraryVersion = createRequire(import.meta.url)('analytics-node/package.json').version;
const relay = await startRecordingRelay(gatewayBase);
const failures = [];
const analytics = new Analytics(writeKey, {
  host: relay.url,
  flushAt: 1000,
  flushInterval: 60_000,
  retryCount: 0,
  errorHandler: (error) => failures.push(String(error)),
});
const flush = () => new Promise((resolve) => analytics.flush((error) => {
  if (error) failures.push(String(error));
  resolve();
}));

// The legacy library sends Date objects as ISO strings and numeric ids as their JSON text.
analytics.identify({
  userId: 'legacy-user-1',
  traits: { email: 'legacy.user@example.test', plan: 'starter', createdAt: new Date('2023-11-12T10:20:30.400Z'), tags: ['a', 'b'] },
});
analytics.page({
  userId: 'legacy-user-1',
  name: 'Settings',
  properties: { url: 'https://app.example.test/settings' },
  timestamp: new Date('2024-06-01T08:00:00.000Z'),
});
analytics.track({ userId: 'legacy-user-1', event: 'Settings Saved' });
await flush();

// 398 track events of about 1 KB each between an identify and a page for a second user.
const filler = 'x'.repeat(1000);
analytics.identify({ userId: 'legacy-user-2', traits: { email: 'legacy.two@example.test', created_at: 1700000000, team: { size: 5 } } });
for (let i = 0; i < 398; i++) {
  analytics.track({ userId: 'legacy-user-2', event: 'Row Imported', properties: { row: i, filler } });
}
analytics.page({ userId: 'legacy-user-2', name: 'Import', properties: { url: 'https://app.example.test/import' }, timestamp: new Date('2024-06-02T09:30:00.000Z') });
await flush();

await relay.close();
console.log(JSON.stringify({ libraryVersion, sent: relay.exchanges, failures }));
