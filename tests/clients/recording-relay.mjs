// A loopback HTTP relay between a client library and the gateway. It records each request as the
// library put it on the wire: method, target, raw header names and values in order, body bytes.
// It forwards the request and relays the gateway's response unchanged. A test then compares what
// the library sent with what the upstream behind the gateway received.
import { createServer, request as httpRequest } from 'node:http';

/**
 * Starts a relay on 127.0.0.1 with a system-assigned port that forwards to `targetBase`
 * (for example `http://127.0.0.1:5000`). Resolves to `{ url, exchanges, close }`.
 */
export async function startRecordingRelay(targetBase) {
  const target = new URL(targetBase);
  const exchanges = [];

  const server = createServer((incoming, outgoing) => {
    const chunks = [];
    incoming.on('data', (chunk) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers = [];
      for (let i = 0; i < incoming.rawHeaders.length; i += 2) {
        headers.push([incoming.rawHeaders[i], incoming.rawHeaders[i + 1]]);
      }

      const exchange = { method: incoming.method, target: incoming.url, headers, bodyBase64: body.toString('base64') };
      exchanges.push(exchange);

      // The raw header list is sent as it came, so Node adds no header of its own and the body
      // framing (Content-Length or chunked) stays the client's.
      const forward = httpRequest(
        { host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.rawHeaders },
        (response) => {
          const responseChunks = [];
          response.on('data', (chunk) => responseChunks.push(chunk));
          response.on('end', () => {
            const responseBody = Buffer.concat(responseChunks);
            exchange.status = response.statusCode;
            exchange.responseBodyBase64 = responseBody.toString('base64');
            outgoing.writeHead(response.statusCode, response.rawHeaders);
            outgoing.end(responseBody);
          });
        },
      );
      forward.on('error', (error) => {
        exchange.error = String(error);
        outgoing.writeHead(502, { 'Content-Type': 'text/plain' });
        outgoing.end(`relay could not reach ${targetBase}: ${error}`);
      });
      forward.end(body);
    });
  });

  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    exchanges,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
