#Requires -Version 7.4
# Helpers for tests/Attack.Tests.ps1: hand-made requests to a 2377 listener (raw paths, chosen
# headers, hand-encoded gRPC/protobuf bodies, a chosen source address), raw TCP and TLS probes,
# a bounded join flood, and DotNext Raft member IDs. They build on TestHelpers.psm1 (import that
# first). The only process they start is none: FakeManager is started by the test itself.
#
# HttpClient runs TLS callbacks and ConnectCallback on pool threads, where PowerShell script
# blocks cannot run: everything on the wire is compiled C# (Add-Type, once per session).

Set-StrictMode -Version Latest

if (-not ('PSSwarmAttack.Wire' -as [type])) {
    Add-Type -TypeDefinition @'
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace PSSwarmAttack
{
    /// <summary>What one request got back: HTTP status (-1: no response), grpc-status (null: none), or the error.</summary>
    public sealed class CallResult
    {
        public string Path { get; set; }
        public int Status { get; set; } = -1;
        public int? GrpcStatus { get; set; }
        public string GrpcMessage { get; set; }
        public string Version { get; set; }
        public string Error { get; set; }
        public string Body { get; set; }
        public byte[] BodyBytes { get; set; }
        public double Milliseconds { get; set; }

        public override string ToString()
        {
            var s = new StringBuilder();
            s.Append("HTTP ").Append(Status < 0 ? "none" : Status.ToString());
            if (Version != null) s.Append(" (").Append(Version).Append(')');
            s.Append(", grpc-status ").Append(GrpcStatus.HasValue ? GrpcStatus.Value.ToString() : "none");
            if (!string.IsNullOrEmpty(GrpcMessage)) s.Append(" '").Append(GrpcMessage).Append('\'');
            if (!string.IsNullOrEmpty(Error)) s.Append(", error: ").Append(Error);
            if (!string.IsNullOrEmpty(Body)) s.Append(", body: ").Append(Body.Length > 200 ? Body.Substring(0, 200) + "..." : Body);
            return s.ToString();
        }
    }

    /// <summary>A TLS handshake probe: whether it completed, the ALPN chosen and what came back to a request.</summary>
    public sealed class TlsProbe
    {
        public bool HandshakeCompleted { get; set; }
        public string Alpn { get; set; }
        public int BytesReceived { get; set; }
        public string ResponseStart { get; set; }
        public bool Closed { get; set; }
        public string Error { get; set; }

        public override string ToString()
            => "handshake " + (HandshakeCompleted ? "completed" : "failed") + ", ALPN '" + Alpn + "', " + BytesReceived + " bytes back"
               + (ResponseStart != null ? " starting '" + ResponseStart.Replace("\r", "\\r").Replace("\n", "\\n") + "'" : "")
               + (Closed ? ", closed" : "") + (Error != null ? ", error: " + Error : "");
    }

    /// <summary>The outcome of a join flood: grpc-status of every answer, in completion order.</summary>
    public sealed class FloodResult
    {
        public int Attempts { get; set; }
        public double ElapsedMs { get; set; }
        public List<int> Statuses { get; } = new List<int>();
        public Dictionary<int, string> SampleMessages { get; } = new Dictionary<int, string>();
        public Dictionary<int, int> Counts => Statuses.GroupBy(s => s).ToDictionary(g => g.Key, g => g.Count());

        public override string ToString()
            => Attempts + " attempts in " + ElapsedMs.ToString("0") + " ms; statuses "
               + string.Join(", ", Counts.OrderBy(p => p.Key).Select(p => (p.Key == -1 ? "error" : p.Key == -2 ? "timeout" : p.Key.ToString()) + " x" + p.Value))
               + "; samples: " + string.Join(" | ", SampleMessages.OrderBy(p => p.Key).Select(p => p.Key + ": " + p.Value));
    }

    public static class Wire
    {
        public static readonly RemoteCertificateValidationCallback AcceptAnyServer = (s, c, ch, e) => true;

        static void AssertLoopback(string host)
        {
            IPAddress ip;
            if (!IPAddress.TryParse(host, out ip) || !IPAddress.IsLoopback(ip))
                throw new ArgumentException("Refusing to talk to '" + host + "': the attack tests only use 127.0.0.0/8.");
        }

        /// <summary>
        /// An HttpClient for one listener: any server certificate accepted, the given client
        /// certificate (or none), and with bindIp every connection leaves from that source address.
        /// </summary>
        public static HttpClient NewClient(X509Certificate2 clientCertificate, string bindIp, int timeoutMs)
        {
            var handler = new SocketsHttpHandler
            {
                ConnectTimeout = TimeSpan.FromSeconds(5),
                PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
                AllowAutoRedirect = false,
                UseCookies = false,
                EnableMultipleHttp2Connections = false,
            };
            handler.SslOptions.RemoteCertificateValidationCallback = AcceptAnyServer;
            handler.SslOptions.TargetHost = "swarm-ca";
            if (clientCertificate != null)
                handler.SslOptions.ClientCertificates = new X509CertificateCollection { clientCertificate };
            if (!string.IsNullOrEmpty(bindIp))
            {
                var source = IPAddress.Parse(bindIp);
                AssertLoopback(bindIp);
                handler.ConnectCallback = async (context, token) =>
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    try
                    {
                        socket.Bind(new IPEndPoint(source, 0));
                        await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(context.DnsEndPoint.Host), context.DnsEndPoint.Port), token).ConfigureAwait(false);
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }
                };
            }
            return new HttpClient(handler, disposeHandler: true) { Timeout = TimeSpan.FromMilliseconds(timeoutMs) };
        }

        /// <summary>https://authority + path exactly as given: no dot-segment removal, no unescaping, no slash folding.</summary>
        public static Uri RawUri(string authority, string path)
        {
            var host = authority.Substring(0, authority.LastIndexOf(':'));
            AssertLoopback(host);
            return new Uri("https://" + authority + path, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
        }

        /// <summary>
        /// One POST (HTTP/2 unless version is "1.1"). headers: "Name: value" lines (a name may repeat).
        /// Never throws for network errors: they come back in Error.
        /// </summary>
        public static CallResult Call(string authority, string path, X509Certificate2 clientCertificate, string contentType, byte[] body,
            string[] headers, int timeoutMs, string version, string bindIp)
        {
            using (var client = NewClient(clientCertificate, bindIp, timeoutMs))
                return CallAsync(client, authority, path, contentType, body, headers, version, CancellationToken.None).GetAwaiter().GetResult();
        }

        public static async Task<CallResult> CallAsync(HttpClient client, string authority, string path, string contentType, byte[] body,
            string[] headers, string version, CancellationToken token)
        {
            var result = new CallResult { Path = path };
            var clock = Stopwatch.StartNew();
            try
            {
                using (var request = new HttpRequestMessage(HttpMethod.Post, RawUri(authority, path)))
                {
                    request.Version = version == "1.1" ? HttpVersion.Version11 : HttpVersion.Version20;
                    request.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
                    request.Content = new ByteArrayContent(body ?? new byte[0]);
                    if (!string.IsNullOrEmpty(contentType)) request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
                    if (contentType != null && contentType.StartsWith("application/grpc", StringComparison.Ordinal))
                        request.Headers.TryAddWithoutValidation("TE", "trailers");
                    if (headers != null)
                    {
                        foreach (var grouped in headers.Select(h => h.Split(new[] { ':' }, 2)).GroupBy(p => p[0].Trim()))
                            request.Headers.TryAddWithoutValidation(grouped.Key, grouped.Select(p => p.Length > 1 ? p[1].Trim() : "").ToArray());
                    }
                    using (var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, token).ConfigureAwait(false))
                    {
                        result.Status = (int)response.StatusCode;
                        result.Version = response.Version.ToString();
                        var bytes = await response.Content.ReadAsByteArrayAsync(token).ConfigureAwait(false);
                        result.BodyBytes = bytes;
                        IEnumerable<string> values;
                        if (response.TrailingHeaders.TryGetValues("grpc-status", out values) || response.Headers.TryGetValues("grpc-status", out values))
                        {
                            int code;
                            if (int.TryParse(values.First(), out code)) result.GrpcStatus = code;
                        }
                        if (response.TrailingHeaders.TryGetValues("grpc-message", out values) || response.Headers.TryGetValues("grpc-message", out values))
                            result.GrpcMessage = Uri.UnescapeDataString(values.First());
                        var isGrpc = response.Content.Headers.ContentType != null && response.Content.Headers.ContentType.MediaType.StartsWith("application/grpc", StringComparison.Ordinal);
                        if (!isGrpc && bytes.Length > 0)
                            result.Body = Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, 400));
                    }
                }
            }
            catch (Exception e)
            {
                var messages = new List<string>();
                for (var x = e; x != null; x = x.InnerException) messages.Add(x.GetType().Name + ": " + x.Message);
                result.Error = string.Join(" -> ", messages);
            }
            result.Milliseconds = clock.Elapsed.TotalMilliseconds;
            return result;
        }

        // ---- protobuf and gRPC framing, by hand ----

        public static byte[] Varint(ulong value)
        {
            var bytes = new List<byte>();
            while (value >= 0x80) { bytes.Add((byte)(value | 0x80)); value >>= 7; }
            bytes.Add((byte)value);
            return bytes.ToArray();
        }

        /// <summary>A length-delimited protobuf field (wire type 2): tag, varint length, bytes.</summary>
        public static byte[] Field(int number, byte[] value)
        {
            var output = new List<byte>();
            output.AddRange(Varint(((ulong)number << 3) | 2));
            output.AddRange(Varint((ulong)value.Length));
            output.AddRange(value);
            return output.ToArray();
        }

        public static byte[] StringField(int number, string value) => Field(number, Encoding.UTF8.GetBytes(value));

        public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

        /// <summary>A gRPC message frame: flag 0, 4-byte big-endian length, the message.</summary>
        public static byte[] GrpcFrame(byte[] message)
        {
            var frame = new byte[5 + message.Length];
            frame[1] = (byte)(message.Length >> 24);
            frame[2] = (byte)(message.Length >> 16);
            frame[3] = (byte)(message.Length >> 8);
            frame[4] = (byte)message.Length;
            Buffer.BlockCopy(message, 0, frame, 5, message.Length);
            return frame;
        }

        // ---- raw TCP and TLS ----

        /// <summary>Sends bytes over plain TCP and reads until the server closes or the timeout; returns bytes received (-1: connect failed).</summary>
        public static int RawTcp(string ip, int port, byte[] payload, int timeoutMs)
        {
            AssertLoopback(ip);
            using (var client = new TcpClient())
            {
                if (!client.ConnectAsync(ip, port).Wait(timeoutMs)) return -1;
                client.ReceiveTimeout = timeoutMs;
                client.SendTimeout = timeoutMs;
                var stream = client.GetStream();
                var total = 0;
                try
                {
                    stream.Write(payload, 0, payload.Length);
                    var buffer = new byte[4096];
                    int n;
                    while ((n = stream.Read(buffer, 0, buffer.Length)) > 0) total += n;
                }
                catch (IOException) { }
                return total;
            }
        }

        /// <summary>
        /// A TLS handshake offering only the given ALPN protocols; if it completes, sends the request
        /// bytes and reads what comes back until close or timeout.
        /// </summary>
        public static TlsProbe Tls(string ip, int port, string[] alpn, byte[] request, int timeoutMs)
        {
            AssertLoopback(ip);
            var probe = new TlsProbe();
            using (var client = new TcpClient())
            {
                if (!client.ConnectAsync(ip, port).Wait(timeoutMs)) { probe.Error = "TCP connect timed out"; return probe; }
                client.ReceiveTimeout = timeoutMs;
                client.SendTimeout = timeoutMs;
                using (var ssl = new SslStream(client.GetStream(), false, AcceptAnyServer))
                {
                    var options = new SslClientAuthenticationOptions
                    {
                        TargetHost = "swarm-ca",
                        ApplicationProtocols = alpn.Select(a => new SslApplicationProtocol(a)).ToList(),
                    };
                    try
                    {
                        using (var cts = new CancellationTokenSource(timeoutMs))
                            ssl.AuthenticateAsClientAsync(options, cts.Token).GetAwaiter().GetResult();
                        probe.HandshakeCompleted = true;
                        probe.Alpn = ssl.NegotiatedApplicationProtocol.ToString();
                    }
                    catch (Exception e)
                    {
                        probe.Error = e.GetType().Name + ": " + e.Message;
                        return probe;
                    }
                    var received = new MemoryStream();
                    try
                    {
                        ssl.Write(request, 0, request.Length);
                        ssl.Flush();
                        var buffer = new byte[4096];
                        int n;
                        while (received.Length < 65536 && (n = ssl.Read(buffer, 0, buffer.Length)) > 0) received.Write(buffer, 0, n);
                        probe.Closed = true;
                    }
                    catch (Exception e)
                    {
                        var inner = e;
                        while (inner.InnerException != null) inner = inner.InnerException;
                        probe.Error = e.GetType().Name + ": " + e.Message + (inner != e ? " (" + inner.Message + ")" : "");
                        // a reset or a TLS alert also ends the conversation
                        probe.Closed = !(inner is SocketException se && se.SocketErrorCode == SocketError.TimedOut)
                                       && !(e is IOException && inner is SocketException s2 && s2.SocketErrorCode == SocketError.WouldBlock);
                    }
                    probe.BytesReceived = (int)received.Length;
                    if (received.Length > 0)
                        probe.ResponseStart = Encoding.ASCII.GetString(received.ToArray(), 0, (int)Math.Min(received.Length, 40));
                    return probe;
                }
            }
        }

        // ---- a bounded flood ----

        /// <summary>
        /// Sends the same gRPC call up to maxCount times, concurrency at a time, from bindIp, and stops
        /// starting new ones after maxMs. Calls are paced so that they spread over at least
        /// spreadMs (call n starts no earlier than n * spreadMs / maxCount). Each call has its own
        /// timeout; returns every grpc-status (-1: transport error, -2: timed out), in the order
        /// the answers came.
        /// </summary>
        public static async Task<FloodResult> FloodAsync(string authority, string bindIp, string path, byte[] body,
            int maxCount, int maxMs, int spreadMs, int concurrency, int callTimeoutMs)
        {
            var result = new FloodResult();
            var statuses = new ConcurrentQueue<int>();
            var samples = new ConcurrentDictionary<int, string>();
            var clock = Stopwatch.StartNew();
            var started = 0;
            using (var client = NewClient(null, bindIp, Math.Max(callTimeoutMs * 2, 1000)))
            {
                async Task Worker()
                {
                    int n;
                    while (clock.ElapsedMilliseconds < maxMs && (n = Interlocked.Increment(ref started)) <= maxCount)
                    {
                        var wait = (long)n * spreadMs / maxCount - clock.ElapsedMilliseconds;
                        if (wait > 0) await Task.Delay((int)Math.Min(wait, Math.Max(0, maxMs - clock.ElapsedMilliseconds))).ConfigureAwait(false);
                        if (clock.ElapsedMilliseconds >= maxMs) break;
                        using (var cts = new CancellationTokenSource(callTimeoutMs))
                        {
                            var r = await CallAsync(client, authority, path, "application/grpc", body, null, "2.0", cts.Token).ConfigureAwait(false);
                            var code = r.GrpcStatus ?? (cts.IsCancellationRequested ? -2 : -1);
                            statuses.Enqueue(code);
                            samples.TryAdd(code, r.GrpcStatus.HasValue ? r.GrpcMessage ?? "" : r.Error ?? r.ToString());
                        }
                    }
                }
                await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(Worker))).ConfigureAwait(false);
            }
            result.ElapsedMs = clock.Elapsed.TotalMilliseconds;
            result.Statuses.AddRange(statuses);
            result.Attempts = result.Statuses.Count;
            foreach (var pair in samples) result.SampleMessages[pair.Key] = pair.Value;
            return result;
        }
    }
}
'@
}

function Get-AttackNodeCertificate {
    <# A node's certificate with its key, from PEM files (by default <DataRoot>/certificates/swarm-node.crt + .key, or a copied folder). #>
    [CmdletBinding()]
    param([object] $Node, [string] $Directory)
    if (-not $Directory) { $Directory = Join-Path $Node.DataRoot 'certificates' }
    [System.Security.Cryptography.X509Certificates.X509Certificate2]::CreateFromPemFile(
        (Join-Path $Directory 'swarm-node.crt'), (Join-Path $Directory 'swarm-node.key'))
}

function Copy-NodeCertificateFile {
    <# Copies a node's certificates folder aside (to keep a certificate the node is about to lose); returns the copy's path. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [object] $Node, [Parameter(Mandatory)] [string] $Destination)
    $null = New-Item -ItemType Directory -Force -Path $Destination
    Copy-Item -Path (Join-Path $Node.DataRoot 'certificates/*') -Destination $Destination -Force
    $Destination
}

function Invoke-AttackCall {
    <#
    One POST to a 2377 listener with the exact path given (nothing canonicalized), a client
    certificate or none, a body (default: an empty gRPC message) and extra headers ("Name: value").
    Returns a PSSwarmAttack.CallResult: Status (-1: no response), GrpcStatus, GrpcMessage, Error, Body.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $Address,
        [Parameter(Mandatory)] [string] $Path,
        [System.Security.Cryptography.X509Certificates.X509Certificate2] $Certificate,
        [string] $ContentType = 'application/grpc',
        [byte[]] $Body = [byte[]](0, 0, 0, 0, 0),
        [string[]] $Header = @(),
        [int] $TimeoutMilliseconds = 10000,
        [ValidateSet('2.0', '1.1')] [string] $HttpVersion = '2.0',
        [string] $SourceAddress
    )
    [PSSwarmAttack.Wire]::Call($Address, $Path, $Certificate, $ContentType, $Body, $Header, $TimeoutMilliseconds, $HttpVersion, $SourceAddress)
}

function New-RaftHeader {
    <# The headers of a DotNext Raft message: type, a fresh request ID and, unless -NoSender, X-Raft-Node-ID (several values: repeated). #>
    [CmdletBinding()]
    param([string] $MessageType = 'Metadata', [string[]] $Sender, [switch] $NoSender)
    $requestId = -join ((1..32) | ForEach-Object { [char](Get-Random -InputObject ((97..122) + (65..90) + (48..57))) })
    $headers = @("X-Raft-Message-Type: $MessageType", "X-Request-ID: $requestId")
    if (-not $NoSender) { foreach ($s in $Sender) { $headers += "X-Raft-Node-ID: $s" } }
    $headers
}

$script:MemberIdLoadError = $null
$script:MemberIdLoaded = $false

function Initialize-RaftMemberId {
    <#
    Loads DotNext (from the staged daemon folder) and Microsoft.AspNetCore.Connections.Abstractions
    (from the ASP.NET Core shared framework) so that Get-RaftMemberId can compute real member IDs.
    Returns $true when it could; otherwise $false, and Get-RaftMemberIdLoadError says why.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $DaemonDirectory)
    if ($script:MemberIdLoaded) { return $true }
    try {
        $dotnet = (Get-Command dotnet -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
        $runtimes = & $dotnet --list-runtimes 2>$null | Where-Object { $_ -match '^Microsoft\.AspNetCore\.App (\S+) \[(.+)\]$' } | ForEach-Object {
            $version = $Matches[1]
            [pscustomobject]@{ Version = $version; Path = Join-Path $Matches[2] $version; Major = [int]($version.Split('.')[0]) }
        }
        $wanted = [Environment]::Version.Major
        $aspnet = @($runtimes | Where-Object Major -EQ $wanted | Sort-Object { [version]($_.Version -replace '-.*', '') }) | Select-Object -Last 1
        if (-not $aspnet) { throw "no Microsoft.AspNetCore.App $wanted.x runtime in 'dotnet --list-runtimes'" }
        $connections = Join-Path $aspnet.Path 'Microsoft.AspNetCore.Connections.Abstractions.dll'
        if (-not ('Microsoft.AspNetCore.Connections.UriEndPoint' -as [type])) { Add-Type -Path $connections }
        foreach ($name in 'DotNext', 'DotNext.IO', 'DotNext.Threading', 'DotNext.Unsafe', 'DotNext.Net.Cluster') {
            $dll = Join-Path $DaemonDirectory "$name.dll"
            if (Test-Path -LiteralPath $dll) { Add-Type -Path $dll }
        }
        $null = [DotNext.Net.Cluster.ClusterMemberId]
        $script:MemberIdLoaded = $true
    }
    catch {
        $script:MemberIdLoadError = "$_"
    }
    $script:MemberIdLoaded
}

function Get-RaftMemberIdLoadError { $script:MemberIdLoadError }

function Get-RaftMemberId {
    <# DotNext's ClusterMemberId of a manager's Raft member URI https://<ip>:2377/ (56 upper-case hex characters). #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Address)
    if (-not $script:MemberIdLoaded) { throw "DotNext is not loaded: $script:MemberIdLoadError" }
    $uri = [uri]"https://$Address/"
    [DotNext.Net.Cluster.ClusterMemberId]::FromEndPoint([Microsoft.AspNetCore.Connections.UriEndPoint]::new($uri)).ToString()
}

function New-RandomMemberId {
    <# A random, well-formed member ID (28 bytes as 56 upper-case hex characters). #>
    $bytes = [byte[]]::new(28)
    [System.Security.Cryptography.RandomNumberGenerator]::Fill($bytes)
    [Convert]::ToHexString($bytes)
}

function ConvertTo-GrpcFrame {
    <# A gRPC message frame (flag 0, 4-byte big-endian length) around protobuf bytes. #>
    param([byte[]] $Message = [byte[]]::new(0))
    [PSSwarmAttack.Wire]::GrpcFrame($Message)
}

function New-ProtoBytesField {
    <# One length-delimited protobuf field: tag (field number, wire type 2), varint length, the bytes. #>
    param([Parameter(Mandatory)] [int] $Number, [Parameter(Mandatory)] [AllowEmptyCollection()] [byte[]] $Value)
    [PSSwarmAttack.Wire]::Field($Number, $Value)
}

function New-ProtoStringField {
    param([Parameter(Mandatory)] [int] $Number, [Parameter(Mandatory)] [AllowEmptyString()] [string] $Value)
    [PSSwarmAttack.Wire]::StringField($Number, $Value)
}

function New-SelfSignedTestCertificate {
    <# A self-signed ECDSA P-256 certificate written as PEM files <Directory>/swarm-node.crt and .key (OU=swarm-manager, like a manager's). #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Directory)
    $null = New-Item -ItemType Directory -Force -Path $Directory
    $key = [System.Security.Cryptography.ECDsa]::Create([System.Security.Cryptography.ECCurve+NamedCurves]::nistP256)
    try {
        $request = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new(
            'CN=fake-manager, OU=swarm-manager, O=not-this-swarm', $key, [System.Security.Cryptography.HashAlgorithmName]::SHA256)
        $now = [DateTimeOffset]::UtcNow
        $cert = $request.CreateSelfSigned($now.AddMinutes(-5), $now.AddDays(1))
        [System.IO.File]::WriteAllText((Join-Path $Directory 'swarm-node.crt'), $cert.ExportCertificatePem() + "`n")
        [System.IO.File]::WriteAllText((Join-Path $Directory 'swarm-node.key'), $key.ExportPkcs8PrivateKeyPem() + "`n")
        $cert
    }
    finally { $key.Dispose() }
}

Export-ModuleMember -Function Get-AttackNodeCertificate, Copy-NodeCertificateFile, Invoke-AttackCall, New-RaftHeader,
Initialize-RaftMemberId, Get-RaftMemberIdLoadError, Get-RaftMemberId, New-RandomMemberId, ConvertTo-GrpcFrame,
New-ProtoBytesField, New-ProtoStringField, New-SelfSignedTestCertificate
