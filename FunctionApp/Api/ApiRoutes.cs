using FunctionApp.Api.OpenInference;
namespace FunctionApp.Api;

/// <summary>
/// A route both hosts serve: the Functions host (with <c>routePrefix</c> "") and <c>serve</c>. A page is HTML for
/// people, not part of the API: the OpenAPI document describes every route except the pages.
/// </summary>
public sealed record ApiRoute(string Name, string Method, string Template, bool Anonymous, bool IsPage = false);

/// <summary>
/// The HTTP routes, in one place: the function attributes use these constants and the self-hosted server
/// maps this list, so the two hosts cannot drift apart (a test checks the build's functions.metadata
/// against it). Inference and metadata need a function key; health routes, the API document and the try-it page
/// are anonymous.
/// </summary>
public static class ApiRoutes
{
    public const string Predict = "api/predict";
    public const string Models = "api/models";
    public const string Model = "api/models/{name}";
    public const string Chains = "api/chains";
    public const string Chain = "api/chains/{id}";
    public const string Batches = "api/batches";
    public const string HealthLive = "api/health/live";
    public const string HealthReady = "api/health/ready";
    public const string OpenApi = "api/openapi.json";

    /// <summary>
    /// The site root, <c>/</c>. The Functions host does not accept an empty route, so this is an optional parameter
    /// that must be empty: it matches <c>/</c> and nothing else, in the Functions host and in ASP.NET Core routing alike.
    /// </summary>
    public const string TryIt = "{ignored:maxlength(0)?}";

    public const string V2Server = "v2";
    public const string V2Live = "v2/health/live";
    public const string V2Ready = "v2/health/ready";
    public const string V2Model = "v2/models/{name}";
    public const string V2ModelVersion = "v2/models/{name}/versions/{version}";
    public const string V2ModelReady = "v2/models/{name}/ready";
    public const string V2ModelVersionReady = "v2/models/{name}/versions/{version}/ready";
    public const string V2Infer = "v2/models/{name}/infer";
    public const string V2VersionInfer = "v2/models/{name}/versions/{version}/infer";

    public static IReadOnlyList<ApiRoute> All { get; } =
    [
        new("Predict", "post", Predict, Anonymous: false),
        new("ListModels", "get", Models, Anonymous: false),
        new("GetModel", "get", Model, Anonymous: false),
        new("StartChain", "post", Chains, Anonymous: false),
        new("GetChain", "get", Chain, Anonymous: false),
        new("GetBatch", "get", Batches, Anonymous: false),
        new("HealthLive", "get", HealthLive, Anonymous: true),
        new("HealthReady", "get", HealthReady, Anonymous: true),
        new("OpenApi", "get", OpenApi, Anonymous: true),
        new("TryIt", "get", TryIt, Anonymous: true, IsPage: true),
        new("V2ServerMetadata", "get", V2Server, Anonymous: false),
        new("V2ServerLive", "get", V2Live, Anonymous: true),
        new("V2ServerReady", "get", V2Ready, Anonymous: true),
        new("V2ModelMetadata", "get", V2Model, Anonymous: false),
        new("V2ModelVersionMetadata", "get", V2ModelVersion, Anonymous: false),
        new("V2ModelReady", "get", V2ModelReady, Anonymous: true),
        new("V2ModelVersionReady", "get", V2ModelVersionReady, Anonymous: true),
        new("V2ModelInfer", "post", V2Infer, Anonymous: false),
        new("V2ModelVersionInfer", "post", V2VersionInfer, Anonymous: false),
    ];
}
