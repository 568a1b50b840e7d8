using System.Management.Automation;
using PSSwarm.Client;
using PSSwarm.Client.Api;

namespace PSSwarm.Commands;

/// <summary>
/// Base of every PSSwarm cmdlet: a cancellation source tied to Ctrl+C (StopProcessing) and one
/// mapping from client failures to ErrorRecords with stable ids.
/// </summary>
public abstract class PSSwarmCmdlet : PSCmdlet
{
    private readonly CancellationTokenSource cancellation = new();

    protected CancellationToken CancellationToken => cancellation.Token;

    /// <summary>
    /// Runs client work on the pipeline thread: a client failure becomes a terminating error, Ctrl+C
    /// stops the pipeline, and <see cref="MapFailure"/> lets a cmdlet family map other exceptions.
    /// </summary>
    protected T Run<T>(Func<CancellationToken, Task<T>> work, object? target = null)
    {
        try
        {
            return work(CancellationToken).GetAwaiter().GetResult();
        }
        catch (SwarmClientException e)
        {
            ThrowTerminatingError(ToErrorRecord(e, target));
            throw; // not reached
        }
        catch (OperationCanceledException) when (CancellationToken.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
        catch (Exception e) when (MapFailure(e, target) is { } record)
        {
            ThrowTerminatingError(record);
            throw; // not reached
        }
    }

    /// <summary>An ErrorRecord for an exception other than a client failure, or null to let it through.</summary>
    protected virtual ErrorRecord? MapFailure(Exception e, object? target) => null;

    internal static ErrorRecord ToErrorRecord(SwarmClientException e, object? target)
    {
        var category = Enum.TryParse<ErrorCategory>(e.Category, out var c) ? c : ErrorCategory.NotSpecified;
        return new ErrorRecord(new SwarmException(e.ErrorId, e.Message, e), e.ErrorId, category, target);
    }

    protected void ThrowError(string errorId, ErrorCategory category, string message, object? target = null)
        => ThrowTerminatingError(new ErrorRecord(new SwarmException(errorId, message), errorId, category, target));

    protected override void StopProcessing() => cancellation.Cancel();
}

/// <summary>
/// Base of every cmdlet that talks to a daemon: -Endpoint (then $env:PSSWARM_HOST, then the
/// default socket), a reused client, and progress on slow calls.
/// </summary>
public abstract class SwarmCmdlet : PSSwarmCmdlet
{
    private SwarmApi? client;

    /// <summary>The daemon's control endpoint, e.g. unix:///tmp/n1.sock.</summary>
    [Parameter(ValueFromPipelineByPropertyName = false)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(EndpointCompleter))]
    public string? Endpoint { get; set; }

    protected SwarmApi Client
    {
        get
        {
            if (client is null)
            {
                try { client = SwarmApi.For(Endpoint); }
                catch (SwarmClientException e) { ThrowTerminatingError(ToErrorRecord(e, Endpoint)); }
            }
            return client!;
        }
    }

    /// <summary>
    /// Docker's notice with a new unlock key (autolock just turned on), shown once on the host
    /// (the Information stream, tagged PSHOST, as Write-Host writes): it is never in the output
    /// objects; Get-SwarmUnlockKey shows it again.
    /// </summary>
    protected void WriteUnlockKeyNotice(string? unlockKey)
    {
        if (string.IsNullOrEmpty(unlockKey)) return;
        WriteHostNotice("To unlock a swarm manager after it restarts, run the `Unlock-Swarm` command and provide the following key:",
            "", "    " + unlockKey, "",
            "Remember to store this key in a password manager, since without it you will not be able to restart the manager.");
    }

    /// <summary>Lines for the user, on the host only (Information stream tagged PSHOST, as Write-Host writes), never in the output.</summary>
    protected void WriteHostNotice(params string[] lines)
        => WriteInformation(new HostInformationMessage { Message = string.Join(Environment.NewLine, lines) }, ["PSHOST"]);

    /// <summary>How long a call runs before it shows progress (joins, promotions, leaving, waiting for a quorum).</summary>
    private static readonly TimeSpan ProgressAfter = TimeSpan.FromSeconds(1);

    /// <summary>The progress activity of this cmdlet's calls: "Join-Swarm" and so on.</summary>
    protected virtual string ProgressActivity => MyInvocation?.MyCommand?.Name ?? GetType().Name;

    /// <summary>
    /// Runs a client call on the pipeline thread; failures become terminating errors. A call that
    /// takes longer than a second shows a progress record with its elapsed time until it ends.
    /// </summary>
    protected T Call<T>(Func<SwarmApi, CancellationToken, Task<T>> call, object? target = null)
        => Run(token =>
        {
            WriteVerbose($"Calling {Client.Endpoint}");
            return Task.FromResult(WaitWithProgress(call(Client, token)));
        }, target);

    /// <summary>The call's result; its progress records are written here, on the pipeline thread.</summary>
    private T WaitWithProgress<T>(Task<T> task)
    {
        // Task.WhenAny never throws: the call's own failure surfaces from GetResult below, as before.
        Task.WhenAny(task, Task.Delay(ProgressAfter)).GetAwaiter().GetResult();
        if (!task.IsCompleted)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var progress = new ProgressRecord(2, ProgressActivity, $"Waiting for the daemon at {Client.Endpoint}: 1 s");
            try
            {
                WriteProgress(progress);
                while (!task.IsCompleted)
                {
                    Task.WhenAny(task, Task.Delay(250)).GetAwaiter().GetResult();
                    if (task.IsCompleted) break;
                    progress.StatusDescription = $"Waiting for the daemon at {Client.Endpoint}: {clock.Elapsed.TotalSeconds + ProgressAfter.TotalSeconds:0} s";
                    WriteProgress(progress);
                }
            }
            finally
            {
                progress.RecordType = ProgressRecordType.Completed;
                WriteProgress(progress);
            }
        }
        return task.GetAwaiter().GetResult();
    }

    /// <summary>A call that returns nothing (Leave, Unlock, RemoveNode): as <see cref="Call{T}"/>.</summary>
    protected void Call(Func<SwarmApi, CancellationToken, Task> call, object? target = null)
        => Call(async (c, t) => { await call(c, t).ConfigureAwait(false); return true; }, target);

}

/// <summary>The exception behind every PSSwarm error record.</summary>
public sealed class SwarmException : Exception
{
    public SwarmException(string errorId, string message, Exception? inner = null) : base(message, inner) => ErrorId = errorId;
    public string ErrorId { get; }
}
