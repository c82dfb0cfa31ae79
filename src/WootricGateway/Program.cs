using WootricGateway.Hosting;

try
{
    var app = GatewayApplication.Build(args);
    await app.RunAsync();
}
catch (Exception exception) when (ConfigurationErrors.Describe(exception) is { } message)
{
    // A bad setting is an operator error, so the message names it without a stack trace and the exit code is non-zero.
    await Console.Error.WriteLineAsync(message);
    return 2;
}

return 0;
