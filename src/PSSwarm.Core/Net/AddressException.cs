namespace PSSwarm.Core.Net;

/// <summary>An unusable listen or advertise address; the message is the user-facing text.</summary>
public sealed class AddressException(string message) : Exception(message);
