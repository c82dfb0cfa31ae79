namespace WootricGateway.Tests.Conformance;

/// <summary>
/// Finds the conformance case files: the directory named by <c>WOOTRIC_GATEWAY_CASES_DIR</c>,
/// else the first <c>shared/cases</c> found walking up from the test assembly's directory. The
/// walk also finds <c>shared/</c> next to the repository folder, where CI puts it.
/// </summary>
internal sealed record CaseDirectory(string? Path, IReadOnlyList<string> SearchedPaths)
{
    public const string EnvironmentVariable = "WOOTRIC_GATEWAY_CASES_DIR";

    public bool IsFound => Path is not null;

    public static CaseDirectory Locate()
    {
        var searched = new List<string>();
        var configured = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            // An explicit setting is never replaced by a directory found elsewhere.
            var fullPath = System.IO.Path.GetFullPath(configured);
            searched.Add($"{fullPath} (from {EnvironmentVariable})");
            return new CaseDirectory(ContainsCases(fullPath) ? fullPath : null, searched);
        }

        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = System.IO.Path.Combine(directory.FullName, "shared", "cases");
            searched.Add(candidate);
            if (ContainsCases(candidate))
            {
                return new CaseDirectory(candidate, searched);
            }
        }

        return new CaseDirectory(null, searched);
    }

    /// <summary>Returns the case ids (file names without .json), sorted.</summary>
    public IReadOnlyList<string> ListCaseIds() =>
        Path is null
            ? []
            : [.. Directory.EnumerateFiles(Path, "*.json").Select(System.IO.Path.GetFileNameWithoutExtension).OfType<string>().Order(StringComparer.Ordinal)];

    public string GetCaseFile(string caseId) =>
        System.IO.Path.Combine(Path ?? throw new InvalidOperationException(DescribeNotFound()), caseId + ".json");

    public string DescribeNotFound() =>
        $"No conformance case directory with *.json files was found. Set {EnvironmentVariable} to the cases directory. Searched:{Environment.NewLine}  "
        + string.Join(Environment.NewLine + "  ", SearchedPaths);

    private static bool ContainsCases(string directory) =>
        Directory.Exists(directory) && Directory.EnumerateFiles(directory, "*.json").Any();
}
