using System.Management.Automation;
using System.Reflection;
using System.Runtime.Loader;

namespace PSSwarm;

/// <summary>
/// Loads the module's gRPC, Protobuf and logging dependencies in their own AssemblyLoadContext
/// (the "bridge" pattern of PowerShell's "Resolving PowerShell module assembly dependency
/// conflicts"): PSSwarm.dll (cmdlets and output types) is in the default context; it references
/// only PSSwarm.Client (the bridge), which is not next to it but in Dependencies/. When the default
/// context cannot find PSSwarm.Client, this handler loads it in <see cref="PSSwarmLoadContext"/>,
/// which then resolves every dependency of the bridge from Dependencies/. So another module (or
/// host) that loads another Google.Protobuf or Grpc into the default context neither breaks
/// PSSwarm nor is broken by it.
/// </summary>
public sealed class DependencyIsolation : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    /// <summary>The bridge: the one assembly the default context asks this handler for.</summary>
    internal const string BridgeAssembly = "PSSwarm.Client";

    private static readonly string DependencyDirectory =
        Path.Combine(Path.GetDirectoryName(typeof(DependencyIsolation).Assembly.Location)!, "Dependencies");

    // One context for the life of the process: the default context keeps the bridge it resolved
    // once, so a second Import-Module (after Remove-Module) must hand back the same assembly.
    private static readonly Lazy<PSSwarmLoadContext> Context = new(() => new PSSwarmLoadContext(DependencyDirectory));

    public void OnImport()
    {
        AssemblyLoadContext.Default.Resolving -= ResolveBridge; // once, however often the module is imported
        AssemblyLoadContext.Default.Resolving += ResolveBridge;
    }

    public void OnRemove(PSModuleInfo psModuleInfo) => AssemblyLoadContext.Default.Resolving -= ResolveBridge;

    /// <summary>Answers only for the bridge; everything else is left to the default context and other handlers.</summary>
    private static Assembly? ResolveBridge(AssemblyLoadContext defaultContext, AssemblyName name)
    {
        if (!string.Equals(name.Name, BridgeAssembly, StringComparison.Ordinal)) return null;
        // Not isolated when the dependencies sit next to PSSwarm.dll (a plain dotnet build output):
        // the default context found the bridge itself and never asks.
        if (!File.Exists(Path.Combine(DependencyDirectory, BridgeAssembly + ".dll"))) return null;
        return Context.Value.LoadFromAssemblyName(name);
    }
}

/// <summary>
/// PSSwarm's private load context: PSSwarm.Client and its dependencies (Google.Protobuf, Grpc.*,
/// Microsoft.Extensions.*) from Dependencies/. The framework (System.*), PowerShell and PSSwarm.dll
/// itself come from the default context.
/// </summary>
internal sealed class PSSwarmLoadContext : AssemblyLoadContext
{
    private readonly string directory;

    internal PSSwarmLoadContext(string directory) : base("PSSwarm", isCollectible: false) => this.directory = directory;

    protected override Assembly? Load(AssemblyName name)
    {
        if (name.Name is null || name.Name is "PSSwarm" or "System.Management.Automation" or "netstandard" or "mscorlib"
            || name.Name.StartsWith("System.", StringComparison.Ordinal))
            return null;
        var path = Path.Combine(directory, name.Name + ".dll");
        return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
    }
}
