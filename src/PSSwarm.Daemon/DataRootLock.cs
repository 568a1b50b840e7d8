namespace PSSwarm.Daemon;

/// <summary>
/// One daemon per data root: two would append to one Raft log and act as one node at once. The lock is an
/// exclusive advisory lock (flock) on <c>&lt;data-root&gt;/psswarmd.lock</c>, which .NET takes for
/// <see cref="FileShare.None"/> on Unix, held for the daemon's life; the kernel drops it when the process
/// ends, however it ends, so a killed daemon leaves nothing stale (unlike dockerd's pid file, which must
/// be deleted by hand). The holder's PID goes to <c>psswarmd.pid</c> beside it, for the refusal's message.
/// </summary>
internal sealed class DataRootLock : IDisposable
{
    public const string LockFileName = "psswarmd.lock";
    public const string PidFileName = "psswarmd.pid";
    private static readonly UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly FileStream held;

    private DataRootLock(FileStream held) => this.held = held;

    /// <summary>Takes the data root, or throws <see cref="InvalidOperationException"/> naming the daemon that has it.</summary>
    public static DataRootLock Acquire(string dataRoot)
    {
        var lockPath = Path.Combine(dataRoot, LockFileName);
        var pidPath = Path.Combine(dataRoot, PidFileName);
        FileStream stream;
        try
        {
            stream = new FileStream(lockPath, new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None, UnixCreateMode = Private,
            });
        }
        catch (IOException e) when (File.Exists(lockPath) && e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            var holder = ReadPid(pidPath);
            throw new InvalidOperationException(
                $"another psswarmd{(holder is { } pid ? $" (pid {pid})" : "")} is running on the data root {dataRoot}: "
                + "stop it first (Stop-SwarmDaemon), or give this daemon another --data-root.", e);
        }
        try
        {
            File.WriteAllText(pidPath, $"{Environment.ProcessId}\n");
            File.SetUnixFileMode(pidPath, Private);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The PID file only improves a refusal's message; the lock is what counts.
        }
        return new DataRootLock(stream);
    }

    private static int? ReadPid(string path)
    {
        try { return int.TryParse(File.ReadAllText(path).Trim(), out var pid) ? pid : null; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    public void Dispose() => held.Dispose();
}
