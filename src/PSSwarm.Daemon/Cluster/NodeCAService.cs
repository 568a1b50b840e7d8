using Google.Protobuf;
using Grpc.Core;
using PSSwarm.Daemon.Manager;
using PSSwarm.Protocol.Cluster;

namespace PSSwarm.Daemon.Cluster;

/// <summary>The CA endpoints of the cluster listener.</summary>
internal sealed class NodeCAService(PeerAuthenticator authenticator) : NodeCA.NodeCABase
{
    private readonly ByteString rootPem = ByteString.CopyFrom(authenticator.Root.CertificatePemBytes);

    /// <summary>The exact PEM bytes whose SHA-256 is the digest in the join tokens.</summary>
    public override Task<GetRootCACertificateResponse> GetRootCACertificate(GetRootCACertificateRequest request, ServerCallContext context)
        => Task.FromResult(new GetRootCACertificateResponse { Certificate = rootPem });
}
