using System.Text.Json;
using PSSwarm.Core.State;

namespace PSSwarm.Daemon.Node;

/// <summary>What this node knows about itself (not replicated): identity, role, addresses.</summary>
internal sealed record LocalNodeConfig
{
    public required string SwarmId { get; init; }
    public required string NodeId { get; init; }
    public NodeRole Role { get; init; }
    public required string ListenAddress { get; init; }
    public required string AdvertiseAddress { get; init; }
    /// <summary>host:port of every manager this node knows, to reach the swarm after a restart.</summary>
    public List<string> Managers { get; init; } = new();
    /// <summary>
    /// Managers (node ID to Raft address) as the swarm last named them: a manager whose store is
    /// still catching up trusts these for Raft until its store knows them.
    /// </summary>
    public Dictionary<string, string> ManagerPeers { get; init; } = new(StringComparer.Ordinal);
    public DateTimeOffset JoinedAt { get; init; }
}

/// <summary>
/// The data-root layout:
/// <c>node.json</c> (the commit point of a join/init), <c>certificates/</c> (node cert, key 0600,
/// root CA), <c>raft/</c> (the write-ahead log, snapshots and the member list).
/// </summary>
internal sealed class LocalNodeStore(string dataRoot)
{
    public string DataRoot { get; } = dataRoot;
    public string ConfigPath => Path.Combine(DataRoot, "node.json");
    public string CertificatesDir => Path.Combine(DataRoot, "certificates");
    public string NodeCertPath => Path.Combine(CertificatesDir, "swarm-node.crt");
    public string NodeKeyPath => Path.Combine(CertificatesDir, "swarm-node.key");
    public string RootCAPath => Path.Combine(CertificatesDir, "swarm-root-ca.crt");
    /// <summary>A manager's copy of the swarm's data key: "plain:" or, with autolock, "sealed:" and base64.</summary>
    public string DataKeyPath => Path.Combine(CertificatesDir, "swarm-raft.dek");

    /// <summary>
    /// Applied to the node key before it is written (autolock seals a manager's key); null writes it as it is.
    /// </summary>
    public Func<string, string>? ProtectKey { get; set; }

    /// <summary>PEM label of a node key sealed under the key encryption key (autolock).</summary>
    public const string SealedKeyLabel = "PSSWARM SEALED PRIVATE KEY";

    public static bool IsSealedKey(string keyText) => keyText.Contains("-----BEGIN " + SealedKeyLabel + "-----", StringComparison.Ordinal);

    /// <summary>Writes the data key, sealed under <paramref name="kek"/> when given (0600).</summary>
    public void SaveDataKey(byte[] dataKey, byte[]? kek)
    {
        SecureFiles.EnsureDirectory(CertificatesDir);
        var text = kek is null
            ? "plain:" + Convert.ToBase64String(dataKey)
            : "sealed:" + Convert.ToBase64String(PSSwarm.Core.Security.Sealed.Seal(kek, PSSwarm.Core.Security.Sealed.DataKeyMagic, dataKey));
        SecureFiles.WriteAtomic(DataKeyPath, text + "\n");
    }

    /// <summary>The saved data key: (key, false) when plain, (sealed blob, true) when sealed, (null, false) when none.</summary>
    public (byte[]? Key, bool Sealed) LoadDataKey()
    {
        if (!File.Exists(DataKeyPath)) return (null, false);
        var text = File.ReadAllText(DataKeyPath).Trim();
        try
        {
            if (text.StartsWith("plain:", StringComparison.Ordinal)) return (Convert.FromBase64String(text["plain:".Length..]), false);
            if (text.StartsWith("sealed:", StringComparison.Ordinal)) return (Convert.FromBase64String(text["sealed:".Length..]), true);
        }
        catch (FormatException) { }
        throw new InvalidDataException($"The swarm data key file {DataKeyPath} is damaged.");
    }

    public void DeleteDataKey()
    {
        if (File.Exists(DataKeyPath)) File.Delete(DataKeyPath);
    }

    /// <summary>Rewrites the node key file through <paramref name="transform"/> (autolock turned on or off, a new unlock key).</summary>
    public void RewriteKey(Func<string, string> transform)
    {
        var text = File.ReadAllText(NodeKeyPath);
        SecureFiles.WriteAtomic(NodeKeyPath, transform(text));
    }

    /// <summary>During a root rotation: the next root, then the current root's cross-signature of it.</summary>
    public string RootRotationPath => Path.Combine(CertificatesDir, "swarm-root-ca-rotation.crt");
    public string RaftDir => Path.Combine(DataRoot, "raft");

    private static readonly JsonSerializerOptions Json = new(SwarmState.JsonOptions) { WriteIndented = true };

    public void EnsureDataRoot() => SecureFiles.EnsureDirectory(DataRoot);

    /// <summary>Null when the node is in no swarm. A corrupt file throws with a message naming it.</summary>
    public LocalNodeConfig? LoadConfig()
    {
        if (!File.Exists(ConfigPath)) return null;
        try
        {
            return JsonSerializer.Deserialize<LocalNodeConfig>(File.ReadAllBytes(ConfigPath), Json)
                   ?? throw new InvalidDataException("empty");
        }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        {
            throw new InvalidDataException($"The node state file {ConfigPath} is corrupt ({e.Message}). Move it away and use Exit-Swarm -Force, or restore it from a backup.", e);
        }
    }

    public void SaveConfig(LocalNodeConfig config)
        => SecureFiles.WriteAtomic(ConfigPath, JsonSerializer.SerializeToUtf8Bytes(config, Json));

    private const UnixFileMode PublicFile = SecureFiles.PrivateFile | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private string Pending(string path) => path + ".new";

    /// <summary>
    /// Replaces the node's key and certificate as a pair (renewals do it regularly): both are
    /// written as *.new first, then renamed into place; a crash between the two renames leaves a
    /// pending half that <see cref="LoadCertificates"/> completes, so a key never meets a
    /// certificate it does not belong to.
    /// </summary>
    public void SaveCertificates(string certPem, string keyPem, string rootCaPem)
    {
        SecureFiles.EnsureDirectory(CertificatesDir);
        SecureFiles.WriteAtomic(RootCAPath, rootCaPem, PublicFile);
        SecureFiles.WriteAtomic(Pending(NodeKeyPath), ProtectKey is { } protect ? protect(keyPem) : keyPem);
        SecureFiles.WriteAtomic(Pending(NodeCertPath), certPem, PublicFile);
        File.Move(Pending(NodeKeyPath), NodeKeyPath, overwrite: true);
        File.Move(Pending(NodeCertPath), NodeCertPath, overwrite: true);
    }

    /// <summary>The swarm's trust (a root rotation starts or ends): the root, and the rotation's next root and cross-signature, or none.</summary>
    public void SaveTrust(string rootCaPem, string? nextRootPem, string? crossSignedPem)
    {
        SecureFiles.EnsureDirectory(CertificatesDir);
        if (nextRootPem is not null && crossSignedPem is not null)
            SecureFiles.WriteAtomic(RootRotationPath, nextRootPem + crossSignedPem, PublicFile);
        SecureFiles.WriteAtomic(RootCAPath, rootCaPem, PublicFile);
        if (nextRootPem is null && File.Exists(RootRotationPath)) File.Delete(RootRotationPath);
    }

    /// <summary>The rotation saved with <see cref="SaveTrust"/>: (next root, cross-signed), or nulls.</summary>
    public (string? NextRootPem, string? CrossSignedPem) LoadRotation()
    {
        if (!File.Exists(RootRotationPath)) return (null, null);
        var text = File.ReadAllText(RootRotationPath);
        const string end = "-----END CERTIFICATE-----\n";
        var split = text.IndexOf(end, StringComparison.Ordinal);
        if (split < 0 || split + end.Length >= text.Length) return (null, null);
        return (text[..(split + end.Length)], text[(split + end.Length)..]);
    }

    /// <summary>Finishes a pair replacement a crash interrupted, or drops an incomplete one.</summary>
    private void CompletePendingPair()
    {
        var pendingCert = Pending(NodeCertPath);
        var pendingKey = Pending(NodeKeyPath);
        if (File.Exists(pendingCert))
        {
            var keyPath = File.Exists(pendingKey) ? pendingKey : NodeKeyPath;
            if (File.Exists(keyPath) && Matches(File.ReadAllText(pendingCert), File.ReadAllText(keyPath)))
            {
                if (keyPath == pendingKey) File.Move(pendingKey, NodeKeyPath, overwrite: true);
                File.Move(pendingCert, NodeCertPath, overwrite: true);
                return;
            }
        }
        if (File.Exists(pendingCert)) File.Delete(pendingCert);
        if (File.Exists(pendingKey)) File.Delete(pendingKey);
    }

    private static bool Matches(string certPem, string keyPem)
    {
        // A sealed key (autolock) cannot be checked without the unlock key: it was written as a pair.
        if (IsSealedKey(keyPem)) return true;
        try
        {
            using var _ = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(certPem, keyPem);
            return true;
        }
        catch (Exception e) when (e is ArgumentException or System.Security.Cryptography.CryptographicException)
        {
            return false;
        }
    }

    public (string CertPem, string KeyPem, string RootCAPem) LoadCertificates()
    {
        try
        {
            CompletePendingPair();
            return (File.ReadAllText(NodeCertPath), File.ReadAllText(NodeKeyPath), File.ReadAllText(RootCAPath));
        }
        catch (IOException e)
        {
            throw new InvalidDataException($"The node certificates under {CertificatesDir} are missing or unreadable ({e.Message}).", e);
        }
    }

    /// <summary>Forgets the swarm: the config first (so a crash half-way leaves an Inactive node), then the rest.</summary>
    public void Wipe()
    {
        if (File.Exists(ConfigPath)) File.Delete(ConfigPath);
        SecureFiles.DeleteDirectory(RaftDir);
        SecureFiles.DeleteDirectory(CertificatesDir);
    }
}
