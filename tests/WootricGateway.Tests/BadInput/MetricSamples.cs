using System.Globalization;

namespace WootricGateway.Tests.BadInput;

/// <summary>The samples of one metric in Prometheus text format, keyed by their label values joined with '/'.</summary>
internal static class MetricSamples
{
    /// <summary>
    /// Returns every sample of <paramref name="metricName"/>, keyed by its label values in order
    /// (<c>{type="identify",outcome="parsed"}</c> becomes <c>identify/parsed</c>).
    /// </summary>
    public static Dictionary<string, double> Read(string exposition, string metricName)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in exposition.Split('\n'))
        {
            if (!line.StartsWith(metricName + "{", StringComparison.Ordinal))
            {
                continue;
            }

            var close = line.LastIndexOf('}');
            var labels = line[(metricName.Length + 1)..close]
                .Split(',', StringSplitOptions.RemoveEmptyEntries)
                .Select(pair => pair[(pair.IndexOf('=', StringComparison.Ordinal) + 1)..].Trim('"'));
            var value = double.Parse(line[(close + 1)..].Trim().Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture);
            samples[string.Join('/', labels)] = value;
        }

        return samples;
    }

    /// <summary>Returns <paramref name="after"/> minus <paramref name="before"/> for every key that changed.</summary>
    public static Dictionary<string, double> Delta(IReadOnlyDictionary<string, double> before, IReadOnlyDictionary<string, double> after) =>
        after.Select(pair => (pair.Key, Value: pair.Value - before.GetValueOrDefault(pair.Key)))
            .Where(pair => pair.Value != 0)
            .ToDictionary(pair => pair.Key, pair => pair.Value, StringComparer.Ordinal);
}
