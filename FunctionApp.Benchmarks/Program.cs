using BenchmarkDotNet.Running;

// dotnet run -c Release --project FunctionApp.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(FunctionApp.Benchmarks.SideBySideConfig).Assembly).Run(args, new FunctionApp.Benchmarks.SideBySideConfig());
