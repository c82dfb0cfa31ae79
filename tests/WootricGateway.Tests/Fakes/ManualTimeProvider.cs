namespace WootricGateway.Tests.Fakes;

/// <summary>A clock whose wall time moves only when a test advances it. Timestamps stay real.</summary>
internal sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private long utcTicks = start.UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref utcTicks), TimeSpan.Zero);

    public void Advance(TimeSpan delta) => Interlocked.Add(ref utcTicks, delta.Ticks);
}
