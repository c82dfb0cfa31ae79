namespace WootricGateway.Management;

/// <summary>
/// Marks connections accepted on the management listener. Kestrel sets it per connection, so a
/// request on the proxy listener can never reach a management endpoint, whatever its Host header.
/// </summary>
internal sealed class ManagementConnectionFeature
{
    public static readonly ManagementConnectionFeature Instance = new();
}
