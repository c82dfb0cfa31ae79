using Microsoft.Extensions.Options;

namespace WootricGateway.Hosting;

/// <summary>
/// Recognizes a startup exception caused by a bad setting, so the gateway prints one line that names the
/// setting and exits with code 2 instead of crashing with a stack trace.
/// </summary>
internal static class ConfigurationErrors
{
    /// <summary>
    /// Returns the "Invalid configuration: …" line for <paramref name="exception"/>, or null when a bad
    /// setting did not cause it.
    /// </summary>
    public static string? Describe(Exception exception)
    {
        if (exception is OptionsValidationException validation)
        {
            return "Invalid configuration: " + string.Join(" ", validation.Failures);
        }

        // Configuration binding raises InvalidOperationException for a value of the wrong format. The parse
        // error is the direct inner exception for TimeSpan and bool, but numeric type converters wrap it in an
        // ArgumentException, so the whole chain is searched.
        if (exception is InvalidOperationException && FindParseError(exception.InnerException) is { } parseError)
        {
            return "Invalid configuration: " + exception.Message + " " + parseError.Message
                + " Durations are written hh:mm:ss (for example 00:00:30) and sizes in bytes.";
        }

        return null;
    }

    private static Exception? FindParseError(Exception? exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is FormatException or OverflowException)
            {
                return current;
            }
        }

        return null;
    }
}
