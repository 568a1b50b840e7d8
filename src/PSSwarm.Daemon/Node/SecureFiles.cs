namespace PSSwarm.Daemon.Node;

/// <summary>Atomic, durable writes with explicit Unix modes (keys 0600, folders 0700).</summary>
internal static class SecureFiles
{
    public const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    public const UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public static void EnsureDirectory(string path)
    {
        if (!Directory.Exists(path))
            Directory.CreateDirectory(path, PrivateDirectory);
        File.SetUnixFileMode(path, PrivateDirectory);
    }

    /// <summary>Writes to a temporary file (0600), fsyncs it, renames it into place.</summary>
    public static void WriteAtomic(string path, ReadOnlySpan<byte> content, UnixFileMode mode = PrivateFile)
    {
        var dir = Path.GetDirectoryName(path)!;
        EnsureDirectory(dir);
        var temp = Path.Combine(dir, "." + Path.GetFileName(path) + ".tmp");
        using (var stream = new FileStream(temp, new FileStreamOptions
               {
                   Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None,
                   UnixCreateMode = mode, Options = FileOptions.WriteThrough,
               }))
        {
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }
        File.SetUnixFileMode(temp, mode);
        File.Move(temp, path, overwrite: true);
    }

    public static void WriteAtomic(string path, string text, UnixFileMode mode = PrivateFile)
        => WriteAtomic(path, System.Text.Encoding.UTF8.GetBytes(text), mode);

    public static void DeleteDirectory(string path)
    {
        if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
    }
}
