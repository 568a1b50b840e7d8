using System.Net;

namespace PSSwarm.Core.Net;

/// <summary>One network interface as the address logic sees it.</summary>
public sealed record NetInterface(string Name, bool IsUp, bool IsLoopback, IReadOnlyList<IPAddress> Addresses);
