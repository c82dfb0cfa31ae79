// Drives the real @segment/analytics-next browser library in Debian's headless Chromium through a
// gateway. It prints as one JSON line every request the browser sent (CORS preflights included)
// with the response it got, for the caller to compare with what the upstream received.
//
// The page and the library's UMD bundle come from a loopback server started here, the settings are
// given inline (cdnSettings), and every request to an address other than 127.0.0.1 is recorded as a
// violation, so the run needs no network beyond loopback.
//
// Usage: node analytics-browser.mjs <gateway base URL, with any path prefix> <write key> <standard|batching>
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [gatewayBase, writeKey, mode] = process.argv.slice(2);
if (!gatewayBase || !writeKey || !['standard', 'batching'].includes(mode)) {
  console.error('usage: node analytics-browser.mjs <gateway base URL> <write key> <standard|batching>');
  process.exit(2);
}

const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const require = createRequire(import.meta.url);
const bundleDirectory = path.join(path.dirname(require.resolve('@segment/analytics-next/package.json')), 'dist', 'umd');
const libraryVersion = require('@segment/analytics-next/package.json').version;

// apiHost is host[:port]/path without a scheme; the library adds `${protocol}://`.
const gatewayUrl = new URL(gatewayBase);
const apiHost = `${gatewayUrl.host}${gatewayUrl.pathname.replace(/\/$/, '')}/v1`;
const deliveryStrategy = mode === 'batching'
  ? { strategy: 'batching', config: { size: 2, timeout: 500 } }
  : { strategy: 'standard' };

// The page sets window.analytics._cdn before the bundle runs: the UMD build reads it once to find
// where its lazily loaded chunks live (/analytics-next/bundles/ on this server, not the CDN).
const pageHtml = `<!doctype html>
<html><head><meta charset="utf-8"><title>Pricing</title>
<script>window.analytics = { _cdn: location.origin };</script>
<script src="/analytics-next/bundles/index.js"></script>
</head><body><h1>Pricing</h1></body></html>`;

const pageServer = createServer(async (request, response) => {
  const url = new URL(request.url, 'http://127.0.0.1');
  if (url.pathname === '/pricing.html') {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end(pageHtml);
    return;
  }

  const bundlePrefix = '/analytics-next/bundles/';
  const name = url.pathname.startsWith(bundlePrefix) ? url.pathname.slice(bundlePrefix.length) : '';
  if (/^[\w.-]+\.js$/.test(name)) {
    try {
      const script = await readFile(path.join(bundleDirectory, name));
      response.writeHead(200, { 'Content-Type': 'text/javascript' });
      response.end(script);
      return;
    } catch {
      // Falls through to 404.
    }
  }

  response.writeHead(404, { 'Content-Type': 'text/plain' });
  response.end('not found');
});
await new Promise((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
const pageOrigin = `http://127.0.0.1:${pageServer.address().port}`;
const pageUrl = `${pageOrigin}/pricing.html`;

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  // No request routing (page.route) here: with routing on, Playwright 1.65 fulfils CORS preflights
  // itself with a 204 (coreBundle.js, isInterceptedOptionsPreflight), so they would never reach the
  // gateway. Host names resolve to nothing instead, so only
  // literal loopback addresses are reachable.
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
});

const result = { libraryVersion, browserVersion: browser.version(), pageUrl, apiHost, mode, requests: [], outsideLoopback: [], pageErrors: [], consoleErrors: [] };
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (error) => result.pageErrors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') result.consoleErrors.push(message.text());
  });

  // Playwright's own request events leave out CORS preflights, so the DevTools protocol records
  // every request instead: the headers Chromium put on the wire (ExtraInfo events), the body bytes,
  // and the response status and headers.
  const requests = new Map();
  const entry = (id) => {
    if (!requests.has(id)) requests.set(id, { id });
    return requests.get(id);
  };
  const cdp = await context.newCDPSession(page);
  cdp.on('Network.requestWillBeSent', ({ requestId, request, type }) => {
    const record = entry(requestId);
    record.url = request.url;
    record.method = request.method;
    record.type = type;
    record.headers ??= request.headers;
    if (request.postDataEntries) {
      record.bodyBase64 = Buffer.concat(request.postDataEntries.map((part) => Buffer.from(part.bytes ?? '', 'base64'))).toString('base64');
    }

    if (new URL(request.url).hostname !== '127.0.0.1') {
      result.outsideLoopback.push(request.url);
    }
  });
  cdp.on('Network.requestWillBeSentExtraInfo', ({ requestId, headers }) => {
    entry(requestId).headers = headers;
  });
  cdp.on('Network.responseReceivedExtraInfo', ({ requestId, statusCode, headers }) => {
    Object.assign(entry(requestId), { status: statusCode, responseHeaders: headers });
  });
  cdp.on('Network.responseReceived', ({ requestId, response }) => {
    const record = entry(requestId);
    record.status ??= response.status;
    record.responseHeaders ??= response.headers;
  });
  cdp.on('Network.loadingFinished', ({ requestId }) => {
    entry(requestId).finished = true;
  });
  cdp.on('Network.loadingFailed', ({ requestId, errorText, corsErrorStatus }) => {
    Object.assign(entry(requestId), { failed: errorText, corsError: corsErrorStatus?.corsError ?? null });
  });
  await cdp.send('Network.enable');

  await page.goto(pageUrl);
  result.delivery = await page.evaluate(async ({ writeKey, apiHost, deliveryStrategy, pageOrigin }) => {
    const segmentSettings = { apiKey: writeKey, apiHost, protocol: 'http', deliveryStrategy };
    const [analytics] = await window.AnalyticsNext.AnalyticsBrowser.load(
      {
        writeKey,
        cdnURL: pageOrigin,
        cdnSettings: {
          integrations: { 'Segment.io': segmentSettings },
          plan: {},
          edgeFunction: {},
          middlewareSettings: {},
          enabledMiddleware: {},
          metrics: { sampleRate: 0 },
          legacyVideoPluginsEnabled: false,
          remotePlugins: [],
        },
      },
      { integrations: { 'Segment.io': segmentSettings } },
    );

    const failures = [];
    analytics.on('error', (error) => failures.push(String(error?.reason ?? error?.code ?? error)));
    const delivered = await Promise.all([
      analytics.identify('browser-user-1', {
        email: 'browser.user@example.test',
        plan: 'pro',
        createdAt: '2024-02-03T04:05:06.700Z',
        company: { name: 'Acme', size: 40 },
        beta: true,
      }),
      analytics.page('Docs', 'Pricing', { plan_shown: 'pro' }, { timestamp: new Date('2024-05-01T12:00:00.000Z') }),
    ]);

    return {
      failures,
      delivered: delivered.map((context) => ({ type: context.event.type, failedDelivery: context.failedDelivery()?.reason?.message ?? null })),
    };
  }, { writeKey, apiHost, deliveryStrategy, pageOrigin });

  // A JSON POST with a custom header is not a CORS "simple request", whatever the library does, so
  // the browser sends a preflight first. The gateway must pass it to the upstream and relay the
  // response. The upstream's response for /v1/t-denied lacks CORS approval, so that POST must
  // stay blocked.
  result.probes = await page.evaluate(async (gatewayBase) => {
    const probe = async (suffix) => {
      try {
        const response = await fetch(`${gatewayBase}${suffix}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Probe': 'preflight' },
          body: JSON.stringify({ type: 'track', event: 'Preflight Probe', anonymousId: 'probe-1' }),
        });
        return { status: response.status, body: await response.text(), error: null };
      } catch (error) {
        return { status: null, body: null, error: String(error) };
      }
    };
    return { allowed: await probe('/v1/t'), denied: await probe('/v1/t-denied') };
  }, gatewayBase.replace(/\/$/, ''));

  // Waits (up to 30 s) until every request has finished or failed, so each has its response.
  const deadline = Date.now() + 30_000;
  while ([...requests.values()].some((record) => !record.finished && !record.failed) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  result.requests = [...requests.values()].filter((record) => record.url);
  await context.close();
} finally {
  await browser.close();
  pageServer.close();
}

console.log(JSON.stringify(result));
