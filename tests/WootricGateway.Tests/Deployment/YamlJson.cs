using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace WootricGateway.Tests.Deployment;

/// <summary>
/// Converts YAML documents to JSON nodes with typed scalars, as Helm and Kubernetes read them:
/// plain scalars follow the YAML 1.2 core schema (null, booleans, integers, floats), quoted
/// scalars are strings.
/// </summary>
internal static partial class YamlJson
{
    /// <summary>Parses every non-empty document in <paramref name="yaml"/>; <paramref name="source"/> names it in errors.</summary>
    public static IReadOnlyList<JsonNode?> ParseAll(string yaml, string source)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException exception)
        {
            throw new InvalidOperationException($"{source} is not valid YAML: {exception.Message}", exception);
        }

        return [.. stream.Documents.Select(document => Convert(document.RootNode)).Where(node => node is not null)];
    }

    /// <summary>Parses a file with one YAML document.</summary>
    public static JsonNode ParseFile(string path)
    {
        var documents = ParseAll(File.ReadAllText(path), path);
        Assert.True(documents.Count == 1, $"{path} must hold exactly one YAML document, found {documents.Count}.");
        return documents[0]!;
    }

    private static JsonNode? Convert(YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                var result = new JsonObject();
                foreach (var (key, value) in mapping.Children)
                {
                    result[((YamlScalarNode)key).Value ?? ""] = Convert(value);
                }

                return result;

            case YamlSequenceNode sequence:
                return new JsonArray([.. sequence.Children.Select(Convert)]);

            case YamlScalarNode scalar:
                return ConvertScalar(scalar);

            default:
                throw new InvalidOperationException($"Unsupported YAML node {node.NodeType} at {node.Start}.");
        }
    }

    private static JsonValue? ConvertScalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? "";
        if (scalar.Style is not (ScalarStyle.Plain or ScalarStyle.Any))
        {
            return JsonValue.Create(text);
        }

        if (text is "" or "~" or "null" or "Null" or "NULL")
        {
            return null;
        }

        if (text is "true" or "True" or "TRUE")
        {
            return JsonValue.Create(true);
        }

        if (text is "false" or "False" or "FALSE")
        {
            return JsonValue.Create(false);
        }

        if (IntegerPattern().IsMatch(text) && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            return JsonValue.Create(integer);
        }

        if (FloatPattern().IsMatch(text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            return JsonValue.Create(number);
        }

        return JsonValue.Create(text);
    }

    [GeneratedRegex(@"^[-+]?[0-9]+$")]
    private static partial Regex IntegerPattern();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatPattern();
}
