using System.Collections.Concurrent;

namespace WootricGateway.Metrics;

/// <summary>
/// Caches the labelled children of one metric, so hot paths look a child up by its label values
/// without the label array and sequence that <c>WithLabels</c> builds on every call. Label values
/// must come from small closed sets, as they do everywhere in <see cref="GatewayMetrics"/>.
/// </summary>
internal sealed class ChildCache<TChild>(Func<string[], TChild> create)
    where TChild : class
{
    private readonly ConcurrentDictionary<string, TChild> _byOne = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string, string), TChild> _byTwo = new();

    public TChild Get(string value) =>
        _byOne.GetOrAdd(value, static (key, factory) => factory([key]), create);

    public TChild Get(string first, string second) =>
        _byTwo.GetOrAdd((first, second), static (key, factory) => factory([key.Item1, key.Item2]), create);
}
