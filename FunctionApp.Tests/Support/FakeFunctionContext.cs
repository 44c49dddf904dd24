using System.Collections.Immutable;
using Microsoft.Azure.Functions.Worker;

namespace FunctionApp.Tests.Support;

/// <summary>The least of a <see cref="FunctionContext"/>: an invocation id and a function name, for code that only reads those.</summary>
public sealed class FakeFunctionContext(string functionName) : FunctionContext
{
    public override string InvocationId { get; } = Guid.NewGuid().ToString();

    public override string FunctionId => functionName;

    public override TraceContext TraceContext { get; } = new FakeTraceContext();

    public override BindingContext BindingContext => throw new NotSupportedException();

    public override RetryContext RetryContext => throw new NotSupportedException();

    public override IServiceProvider InstanceServices { get; set; } = null!;

    public override FunctionDefinition FunctionDefinition { get; } = new FakeDefinition(functionName);

    public override IDictionary<object, object> Items { get; set; } = new Dictionary<object, object>();

    public override IInvocationFeatures Features => throw new NotSupportedException();

    private sealed class FakeTraceContext : TraceContext
    {
        public override string TraceParent => "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

        public override string TraceState => string.Empty;

        public override IReadOnlyDictionary<string, string> Attributes { get; } = new Dictionary<string, string>();
    }

    private sealed class FakeDefinition(string name) : FunctionDefinition
    {
        public override ImmutableArray<FunctionParameter> Parameters => [];

        public override string PathToAssembly => typeof(FakeDefinition).Assembly.Location;

        public override string EntryPoint => "FunctionApp.Functions." + name;

        public override string Id => name;

        public override string Name => name;

        public override IImmutableDictionary<string, BindingMetadata> InputBindings => ImmutableDictionary<string, BindingMetadata>.Empty;

        public override IImmutableDictionary<string, BindingMetadata> OutputBindings => ImmutableDictionary<string, BindingMetadata>.Empty;
    }
}
