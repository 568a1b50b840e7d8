namespace PSSwarm.Client;

/// <summary>
/// A failed call, ready for the cmdlet layer: a stable error id, the PowerShell ErrorCategory
/// name (this library does not reference System.Management.Automation) and the user's message.
/// </summary>
public sealed class SwarmClientException(string errorId, string category, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public string ErrorId { get; } = errorId;
    public string Category { get; } = category;
}
