namespace WootricGateway.Tests.Deployment;

/// <summary>Paths in the repository checkout, found by walking up from the test binaries to <c>WootricGateway.sln</c>.</summary>
internal static class RepositoryFiles
{
    private static readonly Lazy<string> RootPath = new(FindRoot);

    public static string Root => RootPath.Value;

    public static string ChartDirectory => Path.Combine(Root, "charts", "wootric-gateway");

    /// <summary>Returns the full path of <paramref name="relativePath"/> (forward slashes) under the repository root.</summary>
    public static string PathOf(string relativePath) =>
        Path.Combine(Root, relativePath.Replace('/', Path.DirectorySeparatorChar));

    public static string ReadText(string relativePath)
    {
        var path = PathOf(relativePath);
        Assert.True(File.Exists(path), $"{relativePath} is missing from the repository ({path}).");
        return File.ReadAllText(path);
    }

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "WootricGateway.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No WootricGateway.sln found above {AppContext.BaseDirectory}; run the tests from the repository checkout.");
    }
}
