using Microsoft.Extensions.Options;
using WootricGateway.Hosting;

try
{
    var app = GatewayApplication.Build(args);
    await app.RunAsync();
}
catch (OptionsValidationException exception)
{
    // A bad setting is an operator error, so the message names it without a stack trace and the exit code is non-zero.
    await Console.Error.WriteLineAsync("Invalid configuration: " + string.Join(" ", exception.Failures));
    return 2;
}
catch (InvalidOperationException exception) when (exception.InnerException is FormatException or OverflowException)
{
    // Raised by configuration binding for a value of the wrong format, such as "30s" for a duration.
    await Console.Error.WriteLineAsync("Invalid configuration: " + exception.Message + " " + exception.InnerException.Message
        + " Durations are written hh:mm:ss (for example 00:00:30) and sizes in bytes.");
    return 2;
}

return 0;
