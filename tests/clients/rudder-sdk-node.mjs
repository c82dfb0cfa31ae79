// Drives the real @rudderstack/rudder-sdk-node library through a recording relay and the gateway,
// and prints as one JSON line every request it sent. The library posts gzip-compressed batches to
// /v1/batch with Basic authentication and copies identify traits into `context.traits`.
//
// Usage: node rudder-sdk-node.mjs <gateway base URL> <write key>
import Analytics from '@rudderstack/rudder-sdk-node';
import { createRequire } from 'node:module';
import { startRecordingRelay } from './recording-relay.mjs';

const [gatewayBase, writeKey] = process.argv.slice(2);
if (!gatewayBase || !writeKey) {
  console.error('usage: node rudder-sdk-node.mjs <gateway base URL> <write key>');
  process.exit(2);
}

const libraryVersion = createRequire(import.meta.url)('@rudderstack/rudder-sdk-node/package.json').version;
const relay = await startRecordingRelay(gatewayBase);
const failures = [];
const client = new Analytics(writeKey, {
  dataPlaneUrl: relay.url,
  flushAt: 100,
  flushInterval: 60_000,
  retryCount: 0,
  logLevel: 'error',
  errorHandler: (error) => failures.push(String(error)),
});
const flush = () => new Promise((resolve) => client.flush((error) => {
  if (error) failures.push(String(error));
  resolve();
}));

client.identify({
  userId: 'rudder-user-1',
  traits: { email: 'rudder.user@example.test', plan: 'enterprise', createdAt: 'Thu Mar 24 2016 17:46:45 GMT+0000 (UTC)' },
});
// A second user whose traits exist only in context.traits, as RudderStack's event spec places them.
client.identify({
  userId: 'rudder-user-2',
  context: { traits: { email: 'rudder.two@example.test', role: 'admin' } },
});
client.page({
  userId: 'rudder-user-1',
  name: 'Billing',
  properties: { url: 'https://app.example.test/billing' },
  timestamp: new Date('2024-07-01T10:00:00.000Z'),
});
client.track({ userId: 'rudder-user-1', event: 'Invoice Downloaded' });
await flush();

await relay.close();
console.log(JSON.stringify({ libraryVersion, sent: relay.exchanges, failures }));
