using System.Runtime.InteropServices;

namespace PSSwarm.Daemon;

/// <summary>
/// One daemon per data root: two would append to one Raft log and act as one node at once. The lock is a
/// POSIX record lock (<c>lockf(F_TLOCK)</c>) on <c>&lt;data-root&gt;/psswarmd.pid</c>, which holds the
/// daemon's PID, taken before anything else in the data root is touched and held for the daemon's life.
/// The kernel drops it when the process ends, however it ends, so a killed daemon leaves nothing stale
/// (unlike dockerd's pid file, which must be deleted by hand).
/// Not <see cref="FileShare.None"/>: .NET implements that with an exclusive flock, which every other .NET
/// reader of the file (a backup script, Select-String over the data root) would then fail on. Record locks
/// and flock locks do not see each other on Linux, and the file is opened with FileShare.ReadWrite, so
/// anyone may read the PID while the lock is held.
/// </summary>
internal sealed class DataRootLock : IDisposable
{
    public const string FileName = "psswarmd.pid";
    private const int F_TLOCK = 2;

    private readonly FileStream held;

    private DataRootLock(FileStream held) => this.held = held;

    [DllImport("libc", SetLastError = true)]
    private static extern int lockf(int fd, int cmd, long len);

    /// <summary>Takes the data root, or throws <see cref="InvalidOperationException"/> naming the daemon that has it.</summary>
    public static DataRootLock Acquire(string dataRoot)
    {
        var path = Path.Combine(dataRoot, FileName);
        var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.ReadWrite,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        // The whole file (length 0 from the start): F_TLOCK fails at once when another process holds it.
        if (lockf((int)stream.SafeFileHandle.DangerousGetHandle(), F_TLOCK, 0) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            var holder = ReadPid(stream);
            stream.Dispose();
            throw new InvalidOperationException(
                $"another psswarmd{(holder is { } pid ? $" (pid {pid})" : "")} is running on the data root {dataRoot}: "
                + $"stop it first (Stop-SwarmDaemon), or give this daemon another --data-root. (lockf: errno {errno})");
        }
        var text = System.Text.Encoding.ASCII.GetBytes($"{Environment.ProcessId}\n");
        stream.SetLength(0);
        stream.Write(text);
        stream.Flush(flushToDisk: true);
        return new DataRootLock(stream);
    }

    private static int? ReadPid(FileStream stream)
    {
        try
        {
            stream.Position = 0;
            using var reader = new StreamReader(stream, leaveOpen: true);
            return int.TryParse(reader.ReadToEnd().Trim(), out var pid) ? pid : null;
        }
        catch (IOException) { return null; }
    }

    public void Dispose() => held.Dispose();
}
