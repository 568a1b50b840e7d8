using System.Net.Sockets;
using System.Text;

namespace PSSwarm.Daemon;

/// <summary>
/// The daemon's control socket, created so that nobody ever sees it with another mode than 0660
/// (owner and group read/write) and nobody can connect before it has its mode and group:
/// bind(2) runs under the umask 0117, so the kernel creates the socket file with mode 0660 from its
/// first moment (whatever the daemon's umask), the group is set with lchown(2), the result is checked,
/// and only then does Kestrel call listen(2) on the descriptor (KestrelServerOptions.ListenHandle);
/// until listen(2) a connect(2) is refused. A missing socket directory is created with mode 0750
/// (group: the socket's group), whatever the umask.
/// </summary>
internal sealed class ControlSocket : IDisposable
{
    public const UnixFileMode SocketMode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;
    public const UnixFileMode DirectoryMode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute;

    // The kernel creates a socket file with mode 0777 & ~umask: 0117 leaves exactly 0660.
    private const uint BindUmask = 0x4F; // 0117

    private int fd;

    private ControlSocket(string path, int fd)
    {
        Path = path;
        this.fd = fd;
    }

    public string Path { get; }

    /// <summary>The bound, not yet listening socket descriptor, for KestrelServerOptions.ListenHandle (which does not take ownership).</summary>
    public ulong Handle => (ulong)fd;

    /// <summary>
    /// Creates the socket at path, bound but not listening, mode 0660, group gid (null: the daemon's group).
    /// Replaces a stale socket left by a killed predecessor; refuses when a daemon is listening on it,
    /// and leaves anything that is not a socket alone. Throws IOException or InvalidOperationException
    /// with a message for the user. Call it before any other thread creates files: it sets the
    /// process's umask for the duration of one bind(2).
    /// </summary>
    public static ControlSocket Create(string path, uint? gid)
    {
        path = System.IO.Path.GetFullPath(path);
        var length = Encoding.UTF8.GetByteCount(path);
        if (length > Native.MaxSocketPathBytes)
            throw new InvalidOperationException($"the control socket path is too long ({length} bytes, at most {Native.MaxSocketPathBytes}): {path}");
        CreateMissingDirectories(System.IO.Path.GetDirectoryName(path) ?? "/", gid);
        RemoveStale(path);

        var fd = Native.socket(Native.AF_UNIX, Native.SOCK_STREAM | Native.SOCK_CLOEXEC, 0);
        if (fd < 0) throw Failure("cannot create a unix socket");
        var bound = false;
        try
        {
            var address = Native.UnixAddress(path, out var addressLength);
            var umask = Native.umask(BindUmask);
            int result, errno;
            try
            {
                result = Native.bind(fd, address, addressLength);
                errno = Native.Errno;
            }
            finally
            {
                Native.umask(umask);
            }
            if (result != 0)
            {
                // bind(2) never replaces a path: one that appeared since RemoveStale is another daemon's
                if (errno == Native.EADDRINUSE)
                {
                    if (IsListening(path)) throw AlreadyListening(path);
                    throw new InvalidOperationException($"{path} was created by another process while psswarmd was starting");
                }
                throw new IOException($"cannot bind {path}: {Native.Describe(errno)}");
            }
            bound = true;
            // lchown: never follows a link
            if (gid is { } g && Native.lchown(path, Native.NoChange, g) != 0)
                throw Failure($"cannot give {path} the group {g}");
            // A default ACL on the directory overrides the umask: then set the mode here (still before listen).
            var status = Native.LStat(path);
            if (status is { IsSocket: true } s && s.Permissions != (uint)SocketMode && Native.chmod(path, (uint)SocketMode) != 0)
                throw Failure($"cannot set the mode of {path}");
            Verify(path, gid);
            return new ControlSocket(path, fd);
        }
        catch
        {
            Native.close(fd);
            if (bound) Native.unlink(path);
            throw;
        }
    }

    // The socket file as it will be served: ours, a socket, mode 0660, the chosen group.
    private static void Verify(string path, uint? gid)
    {
        var status = Native.LStat(path) ?? throw new IOException($"{path} disappeared while psswarmd was starting");
        var uid = Native.geteuid();
        if (!status.IsSocket || status.Uid != uid || status.Permissions != (uint)SocketMode || (gid is { } g && status.Gid != g))
            throw new InvalidOperationException(
                $"{path} is not the socket psswarmd created (type {status.Type:x}, owner {status.Uid}, group {status.Gid}, mode {Convert.ToString(status.Permissions, 8)})");
    }

    /// <summary>Removes the socket file (so that no new client reaches it), then closes the descriptor.</summary>
    public void Dispose()
    {
        var f = Interlocked.Exchange(ref fd, -1);
        if (f < 0) return;
        Native.unlink(Path);
        Native.close(f);
    }

    // Each missing directory up to the socket's: mode 0750 (not the umask's), group gid; existing ones are left alone.
    private static void CreateMissingDirectories(string dir, uint? gid)
    {
        var missing = new Stack<string>();
        for (var d = dir; !string.IsNullOrEmpty(d) && !Exists(d); d = System.IO.Path.GetDirectoryName(d))
            missing.Push(d);
        while (missing.TryPop(out var d))
        {
            // mkdir's mode is masked by the umask (never wider than 0750); the chmod makes it exactly 0750.
            if (Native.mkdir(d, (uint)DirectoryMode) != 0)
            {
                if (Native.Errno == Native.EEXIST) continue; // created meanwhile by someone else: not ours to change
                throw Failure($"cannot create the socket directory {d}");
            }
            if (gid is { } g && Native.lchown(d, Native.NoChange, g) != 0) throw Failure($"cannot give {d} the group {g}");
            if (Native.chmod(d, (uint)DirectoryMode) != 0) throw Failure($"cannot set the mode of {d}");
        }
    }

    private static bool Exists(string path)
    {
        // follows a symbolic link: a link to an existing directory is an existing directory
        return Directory.Exists(path) || Native.LStat(path) is not null;
    }

    // A socket file left by a killed predecessor is replaced; a live daemon on it is not; nor is anything else.
    private static void RemoveStale(string path)
    {
        var status = Native.LStat(path);
        if (status is null) return;
        if (!status.Value.IsSocket)
            throw new InvalidOperationException($"{path} exists and is not a socket; not replacing it");
        if (IsListening(path)) throw AlreadyListening(path);
        if (Native.unlink(path) != 0 && Native.Errno != Native.ENOENT) throw Failure($"cannot remove the stale socket {path}");
    }

    private static bool IsListening(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
        {
            return false; // a socket file nobody listens on (ECONNREFUSED), or no file any more (ENOENT)
        }
        catch (SocketException e)
        {
            throw new InvalidOperationException($"cannot tell whether a daemon listens on unix://{path}: {e.Message}");
        }
    }

    private static InvalidOperationException AlreadyListening(string path) =>
        new($"another daemon is already listening on unix://{path}");

    private static IOException Failure(string what) => new($"{what}: {Native.Describe(Native.Errno)}");
}
