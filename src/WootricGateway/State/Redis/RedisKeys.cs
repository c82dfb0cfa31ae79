using System.Buffers;
using System.Globalization;
using System.IO.Hashing;
using System.Text;
using StackExchange.Redis;

namespace WootricGateway.State.Redis;

/// <summary>
/// Key names. A user's keys share one hash tag, a hash of account and user key, so they sit in one
/// Redis Cluster slot, and no email or id appears in a key name.
/// </summary>
/// <remarks>
/// The hashed keys are built as UTF-8 bytes in one array, because the tap needs a message key per event
/// and a state key per user, and building them from strings cost four strings and a byte array each.
/// The names are part of the stored data, so they must not change from one version to the next.
/// </remarks>
public sealed class RedisKeys(string prefix)
{
    /// <summary>Inputs up to this many UTF-8 bytes are hashed from the stack; longer ones from a pooled array.</summary>
    private const int StackHashBytes = 512;

    /// <summary>The length of a hash in hex digits.</summary>
    private const int HashDigits = 32;

    private readonly byte[] _prefix = Encoding.UTF8.GetBytes(prefix);

    /// <summary>The work stream; it shares the <c>{work}</c> hash tag with <see cref="DelayedWork"/> so one script can move entries between them.</summary>
    public RedisKey WorkStream { get; } = prefix + ":{work}:stream";

    /// <summary>Retries waiting for their time, as a sorted set scored by due time in unix milliseconds.</summary>
    public RedisKey DelayedWork { get; } = prefix + ":{work}:delayed";

    public RedisKey DeadLetters { get; } = prefix + ":dead";

    public string ConsumerGroup => "delivery";

    /// <summary><c>{prefix}:user:{hash(account \n key)}:state</c>.</summary>
    public RedisKey State(UserRef user) => HashedKey(":user:{"u8, user.Account, user.Key, "}:state"u8);

    /// <summary><c>{prefix}:user:{hash(account \n key)}:id</c>.</summary>
    public RedisKey WootricId(UserRef user) => HashedKey(":user:{"u8, user.Account, user.Key, "}:id"u8);

    /// <summary><c>{prefix}:user:{hash(account \n key)}:queued</c>.</summary>
    public RedisKey Queued(UserRef user) => HashedKey(":user:{"u8, user.Account, user.Key, "}:queued"u8);

    /// <summary><c>{prefix}:lease:{hash(resource)}</c>.</summary>
    public RedisKey Lease(string resource) => HashedKey(":lease:{"u8, resource, null, "}"u8);

    /// <summary><c>{prefix}:msg:{hash(scope \n messageId)}</c>.</summary>
    public RedisKey Message(string scope, string messageId) => HashedKey(":msg:{"u8, scope, messageId, "}"u8);

    /// <summary>
    /// Returns prefix, <paramref name="head"/>, the lower-case hex XxHash128 of the UTF-8 of <paramref name="first"/>
    /// (joined to <paramref name="second"/> by a line feed when there is one), then <paramref name="tail"/>.
    /// </summary>
    private RedisKey HashedKey(ReadOnlySpan<byte> head, string first, string? second, ReadOnlySpan<byte> tail)
    {
        var hash = Hash(first, second);
        var key = new byte[_prefix.Length + head.Length + HashDigits + tail.Length];
        var rest = key.AsSpan();
        _prefix.CopyTo(rest);
        rest = rest[_prefix.Length..];
        head.CopyTo(rest);
        rest = rest[head.Length..];
        if (!hash.TryFormat(rest, out var written, "x32", CultureInfo.InvariantCulture) || written != HashDigits)
        {
            throw new InvalidOperationException("A 128-bit hash did not format as 32 hex digits.");
        }

        tail.CopyTo(rest[HashDigits..]);
        return key;
    }

    private static UInt128 Hash(string first, string? second)
    {
        var chars = first.Length + (second is null ? 0 : second.Length + 1);
        var maxBytes = Encoding.UTF8.GetMaxByteCount(chars);
        byte[]? rented = null;
        var buffer = maxBytes <= StackHashBytes ? stackalloc byte[StackHashBytes] : (rented = ArrayPool<byte>.Shared.Rent(maxBytes));
        try
        {
            // A lone surrogate becomes U+FFFD here as it would in the joined string, since a line feed separates the parts.
            var length = Encoding.UTF8.GetBytes(first, buffer);
            if (second is not null)
            {
                buffer[length++] = (byte)'\n';
                length += Encoding.UTF8.GetBytes(second, buffer[length..]);
            }

            return XxHash128.HashToUInt128(buffer[..length]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}
