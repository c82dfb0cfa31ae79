using System.Text.Json.Nodes;

namespace WootricGateway.Tests.Conformance;

public sealed class TextValuesTests
{
    [Theory]
    [InlineData("12", "12")]
    [InlineData("12", "12.0")]
    [InlineData("1.5e3", "1500")]
    [InlineData("true", "true")]
    public void AreEqual_EqualTexts(string expected, string actual) =>
        Assert.True(TextValues.AreEqual(expected, actual));

    [Theory]
    [InlineData("1678786013.5", "1678786014")]
    [InlineData("+15550100001", "15550100001")]
    [InlineData("007", "7")]
    [InlineData("True", "true")]
    public void AreEqual_DifferentTexts(string expected, string actual) =>
        Assert.False(TextValues.AreEqual(expected, actual));

    [Fact]
    public void AreEqual_NullIsAbsent()
    {
        Assert.True(TextValues.AreEqual(null, null));
        Assert.False(TextValues.AreEqual(null, ""));
        Assert.False(TextValues.AreEqual("x", null));
    }

    [Fact]
    public void ToText_JsonScalars()
    {
        Assert.Equal("12", TextValues.ToText(JsonValue.Create(12)));
        Assert.Equal("true", TextValues.ToText(JsonValue.Create(true)));
        Assert.Equal("Zürich", TextValues.ToText(JsonValue.Create("Zürich")));
        Assert.Null(TextValues.ToText(null));
    }
}
