using System.Runtime.InteropServices;

namespace WootricGateway.Tap;

/// <summary>
/// Per-thread scheduling priority (the nice value) on Linux, set with <c>setpriority</c>. Linux keeps a
/// nice value for each thread, and a thread may always raise its own without privileges.
/// </summary>
internal static partial class ThreadNice
{
    private const int PriorityProcess = 0;

    /// <summary>
    /// Sets the calling thread's nice value to <paramref name="nice"/>, unless the thread already runs at that
    /// value or a higher one (a process started with <c>nice</c>), which it keeps. Returns true on success, when
    /// the value is kept, and on systems other than Linux, where it does nothing. Returns false with the errno
    /// when the kernel rejects the value, or with -1 when the C library lacks the call.
    /// </summary>
    /// <remarks>
    /// Setting the value unconditionally would give the parser a higher priority than the proxy whenever the
    /// process started above <paramref name="nice"/> with the privilege to lower it (root, CAP_SYS_NICE).
    /// </remarks>
    public static bool TryLowerCurrentThread(int nice, out int error)
    {
        error = 0;
        if (!OperatingSystem.IsLinux())
        {
            return true;
        }

        try
        {
            if (CurrentThreadNice() is { } current && current >= nice)
            {
                return true;
            }

            // For PRIO_PROCESS, Linux applies the value to the one thread whose id is given.
            if (SetPriority(PriorityProcess, GetThreadId(), nice) == 0)
            {
                return true;
            }

            error = Marshal.GetLastPInvokeError();
            return false;
        }
        catch (Exception exception) when (exception is DllNotFoundException or EntryPointNotFoundException)
        {
            error = -1;
            return false;
        }
    }

    /// <summary>Reads the calling thread's nice value; null where it cannot be read.</summary>
    public static int? CurrentThreadNice()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        Marshal.SetLastPInvokeError(0);
        var value = GetPriority(PriorityProcess, GetThreadId());
        return value == -1 && Marshal.GetLastPInvokeError() != 0 ? null : value;
    }

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriority(int which, int who, int priority);

    [LibraryImport("libc", EntryPoint = "getpriority", SetLastError = true)]
    private static partial int GetPriority(int which, int who);

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetThreadId();
}
