using Xunit.Abstractions;

namespace WootricGateway.Tests.Conformance;

/// <summary>Runs conformance cases one at a time, apart from other tests, because they wait on timing.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConformanceCollectionDefinition
{
    public const string Name = "Conformance";
}

/// <summary>Runs every conformance case file against a real gateway, one test per case.</summary>
[Collection(ConformanceCollectionDefinition.Name)]
public sealed class ConformanceTests(ITestOutputHelper output)
{
    /// <summary>The only row when no case directory is found, so the test fails instead of having no rows.</summary>
    public const string CasesNotFound = "(cases directory not found)";

    public static TheoryData<string> CaseIds()
    {
        var directory = CaseDirectory.Locate();
        var ids = directory.IsFound ? directory.ListCaseIds() : [CasesNotFound];
        return [.. ids];
    }

    [Theory]
    [MemberData(nameof(CaseIds))]
    public async Task Gateway_SatisfiesCase(string caseId)
    {
        var directory = CaseDirectory.Locate();
        Assert.True(directory.IsFound, directory.DescribeNotFound());

        var testCase = ConformanceCase.Load(directory.GetCaseFile(caseId));
        using var timeout = new CancellationTokenSource(CaseRunner.GetCaseTimeout(testCase));
        var outcome = await CaseRunner.RunAsync(testCase, timeout.Token);
        if (outcome.Failures.Count == 0)
        {
            // A failure message carries the same diagnostics, so they are written only on success.
            output.WriteLine(outcome.Diagnostics);
        }

        Assert.True(outcome.Failures.Count == 0, outcome.Report());
    }
}

/// <summary>Runs every conformance case again with user state, ids and work in a real Redis server.</summary>
[Collection(ConformanceCollectionDefinition.Name)]
public sealed class ConformanceRedisTests(ITestOutputHelper output, WootricGateway.Tests.State.RedisServerFixture redis)
    : IClassFixture<WootricGateway.Tests.State.RedisServerFixture>
{
    public static TheoryData<string> CaseIds() => ConformanceTests.CaseIds();

    [Theory]
    [MemberData(nameof(CaseIds))]
    public async Task GatewayWithRedis_SatisfiesCase(string caseId)
    {
        var directory = CaseDirectory.Locate();
        Assert.True(directory.IsFound, directory.DescribeNotFound());

        var testCase = ConformanceCase.Load(directory.GetCaseFile(caseId));
        using var timeout = new CancellationTokenSource(CaseRunner.GetCaseTimeout(testCase));
        var outcome = await CaseRunner.RunAsync(testCase, timeout.Token, redis.IsolatedConfiguration());
        if (outcome.Failures.Count == 0)
        {
            output.WriteLine(outcome.Diagnostics);
        }

        Assert.True(outcome.Failures.Count == 0, outcome.Report());
    }
}
