using System.Management.Automation;
using System.Reflection;
using System.Runtime.Loader;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace ConflictModule;

/// <summary>
/// Uses the Google.Protobuf this module was built against: round-trips a Timestamp and a Struct through
/// the binary and the JSON formats, and says which Google.Protobuf did it (version, load context, file).
/// </summary>
[Cmdlet(VerbsCommon.Get, "ConflictProtobuf")]
[OutputType(typeof(PSObject))]
public sealed class GetConflictProtobufCommand : PSCmdlet
{
    protected override void EndProcessing()
    {
        var when = Timestamp.FromDateTimeOffset(new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero));
        var parsed = Timestamp.Parser.ParseFrom(when.ToByteArray());
        var value = new Struct { Fields = { ["module"] = Value.ForString("conflict"), ["n"] = Value.ForNumber(3) } };
        var json = JsonFormatter.Default.Format(value);
        var back = JsonParser.Default.Parse<Struct>(json);
        var protobuf = typeof(IMessage).Assembly;
        var result = new PSObject();
        result.Properties.Add(new PSNoteProperty("Version", protobuf.GetName().Version!.ToString()));
        result.Properties.Add(new PSNoteProperty("InformationalVersion",
            protobuf.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? ""));
        result.Properties.Add(new PSNoteProperty("LoadContext", AssemblyLoadContext.GetLoadContext(protobuf)?.Name ?? ""));
        result.Properties.Add(new PSNoteProperty("Location", protobuf.Location));
        result.Properties.Add(new PSNoteProperty("RoundTrip", parsed.Equals(when) && back.Equals(value)));
        result.Properties.Add(new PSNoteProperty("Json", json));
        WriteObject(result);
    }
}
