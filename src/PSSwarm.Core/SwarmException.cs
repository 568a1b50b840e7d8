namespace PSSwarm.Core;

/// <summary>
/// What kind of failure an error is. The daemon maps it to a gRPC status code, the module to a
/// PowerShell ErrorCategory (names match System.Management.Automation.ErrorCategory).
/// </summary>
public enum SwarmErrorKind
{
    InvalidArgument,
    InvalidOperation,
    ResourceExists,
    ObjectNotFound,
    AuthenticationError,
    SecurityError,
    PermissionDenied,
    ResourceUnavailable,
    ConnectionError,
    OperationTimeout,
    NotImplemented,
    LimitsExceeded,
}

/// <summary>An error with a stable id (the FullyQualifiedErrorId prefix) and Docker's wording.</summary>
public sealed class SwarmException(SwarmErrorKind kind, string errorId, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public SwarmErrorKind Kind { get; } = kind;
    public string ErrorId { get; } = errorId;
}

/// <summary>The errors users see, worded as Docker words them, with docker commands replaced by cmdlets.</summary>
public static class SwarmErrors
{
    public static SwarmException AlreadyInSwarm() => new(SwarmErrorKind.ResourceExists, "SwarmAlreadyExists",
        "This node is already part of a swarm. Use Exit-Swarm to leave this swarm and join another one.");

    public static SwarmException NotInSwarm() => new(SwarmErrorKind.InvalidOperation, "SwarmNotActive",
        "This node is not part of a swarm");

    public static SwarmException NotManagerInactive() => new(SwarmErrorKind.InvalidOperation, "SwarmNotManager",
        "This node is not a swarm manager. Use Initialize-Swarm or Join-Swarm to connect this node to swarm and try again.");

    public static SwarmException NotManager() => new(SwarmErrorKind.InvalidOperation, "SwarmNotManager",
        "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.");

    public static SwarmException ManagerStarting(string? detail = null) => new(SwarmErrorKind.ResourceUnavailable, "SwarmManagerNotReady",
        "This node is not a swarm manager. Manager is being prepared or has trouble connecting to the cluster." + (string.IsNullOrEmpty(detail) ? "" : " " + detail));

    public static SwarmException NoLeader() => new(SwarmErrorKind.ResourceUnavailable, "SwarmNoLeader",
        "The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.");

    public static SwarmException InvalidArgument(string message) => new(SwarmErrorKind.InvalidArgument, "SwarmInvalidArgument", message);

    public static SwarmException LastManager() => new(SwarmErrorKind.InvalidOperation, "SwarmLastManager",
        "You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `-Force` to ignore this message.");
}
