using System.Net;

namespace WootricGateway.Proxy;

/// <summary>
/// A handler that lets a forwarded request's head and a small body leave in one write to the upstream.
/// </summary>
/// <remarks>
/// YARP's request content flushes the request head to the upstream connection before it copies the
/// body, so each request with a body cost two sends. A perf profile on loopback put each send at about
/// a tenth of the proxy's CPU per request, because the send also runs the receiving side of the TCP
/// stack (docs/benchmarks.md, "One send per request"). For a request that declares a Content-Length,
/// this handler ignores that first flush. The HTTP/1.1 connection then buffers the head, and sends it
/// together with a body that fits in its write buffer. A larger body fills the buffer, and the rest
/// follows in a second send, as before. No byte changes. A request without a declared length (chunked,
/// streamed) is sent as YARP sends it.
/// NOTE: the upstream now receives nothing of a request until its whole body, or a write buffer's worth
/// of head and body, is ready. A client that stops partway through its body leaves the upstream
/// connection closed with no bytes sent, where before the head went first. An upstream that could
/// answer from the head alone, a rejected write key for example, answers once the body is complete.
/// </remarks>
internal sealed class SingleWriteRequestHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Content is { } content && content.Headers.ContentLength > 0)
        {
            request.Content = new HeldFlushContent(content);
        }

        return base.SendAsync(request, cancellationToken);
    }

    /// <summary>Content that sends the inner content through a <see cref="HeldFlushStream"/>, with the same content headers.</summary>
    private sealed class HeldFlushContent : HttpContent
    {
        private readonly HttpContent _inner;

        public HeldFlushContent(HttpContent inner)
        {
            _inner = inner;
            foreach (var header in inner.Headers.NonValidated)
            {
                Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            _inner.CopyToAsync(new HeldFlushStream(stream), context);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
            _inner.CopyToAsync(new HeldFlushStream(stream), context, cancellationToken);

        // The Content-Length header copied from the inner content gives the length.
        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    /// <summary>A write-only view of the connection's request stream that ignores flushes until something is written.</summary>
    private sealed class HeldFlushStream(Stream inner) : Stream
    {
        private bool _written;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Flush()
        {
            if (_written)
            {
                inner.Flush();
            }
        }

        public override Task FlushAsync(CancellationToken cancellationToken) =>
            _written ? inner.FlushAsync(cancellationToken) : Task.CompletedTask;

        public override void Write(byte[] buffer, int offset, int count)
        {
            _written = true;
            inner.Write(buffer, offset, count);
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _written = true;
            inner.Write(buffer);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            _written = true;
            return inner.WriteAsync(buffer, offset, count, cancellationToken);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _written = true;
            return inner.WriteAsync(buffer, cancellationToken);
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
