using System.Globalization;
using System.IO.Hashing;
using System.Text;
using WootricGateway.State;
using WootricGateway.State.Redis;

namespace WootricGateway.Tests.State;

/// <summary>
/// Key names are stored data: a new version that named a user's state or a message id differently would
/// lose the state and de-duplication of every user. These tests pin the names to the way they were first built.
/// </summary>
public sealed class RedisKeysTests
{
    public static TheoryData<string, string> Inputs => new()
    {
        { "default", "u:user-1" },
        { "acme", "e:ana@example.test" },
        { "äccount", "u:ユーザー-🙂" },
        { "default", "u:" + new string('x', 700) },
        { "default", "u:" + new string('é', 300) },
        { "default", "u:lone-\ud800-surrogate" },
        { "", "" },
    };

    [Theory]
    [MemberData(nameof(Inputs))]
    public void UserKeys_MatchTheFirstNaming(string account, string key)
    {
        var keys = new RedisKeys("wg");
        var user = new UserRef(account, key);
        var tag = "wg:user:{" + FirstHash(account + "\n" + key) + "}:";

        Assert.Equal(tag + "state", keys.State(user).ToString());
        Assert.Equal(tag + "id", keys.WootricId(user).ToString());
        Assert.Equal(tag + "queued", keys.Queued(user).ToString());
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void MessageAndLeaseKeys_MatchTheFirstNaming(string first, string second)
    {
        var keys = new RedisKeys("gateway-α");

        Assert.Equal("gateway-α:msg:{" + FirstHash(first + "\n" + second) + "}", keys.Message(first, second).ToString());
        Assert.Equal("gateway-α:lease:{" + FirstHash(first + second) + "}", keys.Lease(first + second).ToString());
    }

    [Fact]
    public void DifferentUsers_GetDifferentKeys()
    {
        var keys = new RedisKeys("wg");

        Assert.NotEqual(keys.State(new UserRef("a", "u:1")), keys.State(new UserRef("a", "u:2")));
        Assert.NotEqual(keys.State(new UserRef("a\nu:1", "")), keys.State(new UserRef("a", "u:1")));
        Assert.NotEqual(keys.Message("s", "m1"), keys.Message("s", "m2"));
    }

    /// <summary>The hash as the first version computed it: XxHash128 of the joined string's UTF-8, as 32 lower-case hex digits.</summary>
    private static string FirstHash(string value) =>
        XxHash128.HashToUInt128(Encoding.UTF8.GetBytes(value)).ToString("x32", CultureInfo.InvariantCulture);
}
