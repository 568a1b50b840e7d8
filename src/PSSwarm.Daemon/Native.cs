using System.Runtime.InteropServices;

namespace PSSwarm.Daemon;

/// <summary>The few libc calls the control socket needs that .NET has no API for (Linux, glibc or musl).</summary>
internal static class Native
{
    public const int AF_UNIX = 1;
    public const int SOCK_STREAM = 1;
    public const int SOCK_CLOEXEC = 0x80000;     // 02000000, the same on x86-64 and arm64
    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const uint STATX_TYPE = 0x1, STATX_MODE = 0x2, STATX_UID = 0x8, STATX_GID = 0x10;
    public const uint S_IFMT = 0xF000, S_IFSOCK = 0xC000, S_IFDIR = 0x4000;
    public const uint NoChange = uint.MaxValue;  // (uid_t)-1 / (gid_t)-1: chown leaves that id alone

    public const int ENOENT = 2, EEXIST = 17, EADDRINUSE = 98;

    /// <summary>The longest socket path sockaddr_un holds (108 bytes with the terminating NUL).</summary>
    public const int MaxSocketPathBytes = 107;

    [DllImport("libc", SetLastError = true)] public static extern int socket(int domain, int type, int protocol);
    [DllImport("libc", SetLastError = true)] public static extern int bind(int fd, byte[] addr, int addrlen);
    [DllImport("libc", SetLastError = true)] public static extern int close(int fd);
    [DllImport("libc", SetLastError = true)] public static extern int chmod(string path, uint mode);
    [DllImport("libc", SetLastError = true)] public static extern int lchown(string path, uint owner, uint group);
    [DllImport("libc", SetLastError = true)] public static extern int mkdir(string path, uint mode);
    [DllImport("libc", SetLastError = true)] public static extern int unlink(string path);
    [DllImport("libc")] public static extern uint umask(uint mask);
    [DllImport("libc")] public static extern uint geteuid();
    [DllImport("libc", SetLastError = true)] private static extern int statx(int dirfd, string path, int flags, uint mask, byte[] buffer);
    [DllImport("libc", SetLastError = true)] private static extern IntPtr getgrnam(string name);

    public static int Errno => Marshal.GetLastPInvokeError();

    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    /// <summary>A path's type, permission bits, owner and group (lstat: a symbolic link is not followed).</summary>
    public readonly record struct FileStatus(uint Type, uint Permissions, uint Uid, uint Gid)
    {
        public bool IsSocket => Type == S_IFSOCK;
        public bool IsDirectory => Type == S_IFDIR;
    }

    /// <summary>lstat(2) through statx(2), whose layout is the same on every architecture; null when the path does not exist.</summary>
    public static FileStatus? LStat(string path)
    {
        var buffer = new byte[256];
        if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_MODE | STATX_UID | STATX_GID, buffer) != 0)
        {
            var errno = Errno;
            if (errno is ENOENT) return null;
            throw new IOException($"cannot stat {path}: {Describe(errno)}");
        }
        // struct statx: u32 stx_mask, u32 stx_blksize, u64 stx_attributes, u32 stx_nlink, u32 stx_uid, u32 stx_gid, u16 stx_mode
        var uid = BitConverter.ToUInt32(buffer, 20);
        var gid = BitConverter.ToUInt32(buffer, 24);
        var mode = (uint)BitConverter.ToUInt16(buffer, 28);
        return new FileStatus(mode & S_IFMT, mode & 0xFFF, uid, gid);
    }

    /// <summary>getgrnam(3) (honours NSS); null when there is no such group.</summary>
    public static uint? GroupId(string name)
    {
        var group = getgrnam(name);
        if (group == IntPtr.Zero) return null;
        // struct group { char *gr_name; char *gr_passwd; gid_t gr_gid; char **gr_mem; }
        return unchecked((uint)Marshal.ReadInt32(group, 2 * IntPtr.Size));
    }

    /// <summary>A struct sockaddr_un for a path (the caller checks its length).</summary>
    public static byte[] UnixAddress(string path, out int length)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(path);
        var address = new byte[2 + MaxSocketPathBytes + 1];
        BitConverter.TryWriteBytes(address.AsSpan(0, 2), (ushort)AF_UNIX);
        bytes.CopyTo(address, 2);
        length = 2 + bytes.Length + 1;
        return address;
    }
}
