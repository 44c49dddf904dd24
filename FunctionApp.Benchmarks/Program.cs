using BenchmarkDotNet.Running;
using FunctionApp.Benchmarks;

// dotnet run -c Release --project FunctionApp.Benchmarks -- --filter '*'   (BenchmarkDotNet suites)
// dotnet run -c Release --project FunctionApp.Benchmarks -- pool-memory 8  (one pool-size measurement)
// dotnet run -c Release --project FunctionApp.Benchmarks -- ort-floor M I   (the cold-start floor; see cold-start.sh)
// dotnet run -c Release --project FunctionApp.Benchmarks -- ort-throughput M I SECONDS  (raw ORT's best split of the cores)
// dotnet run -c Release --project FunctionApp.Benchmarks -- request-floor PACKAGE IMAGE SECONDS  (the least one request can take)
// dotnet run -c Release --project FunctionApp.Benchmarks -- fairness APP [ENTRIES] [DROPS]  (see fairness.sh)
// dotnet run -c Release --project FunctionApp.Benchmarks -- scale-out APP IMAGES ENTRIES ROUNDS LAYOUT...  (see scale-out.sh)
// dotnet run -c Release --project FunctionApp.Benchmarks -- first-prediction URL IMAGE EXE [ARGS...]  (cold start: start EXE, POST IMAGE to URL until 200)
// dotnet run -c Release --project FunctionApp.Benchmarks -- worker-start EXE worker|serve  (start to a warm model; see cold-start.sh)
// dotnet run -c Release --project FunctionApp.Benchmarks -- quantized-throughput ROOT NAME FLOAT INT8 IMAGES [ROUNDS]  (see quantize.sh)
if (args is ["ort-floor", var model, var input])
    return FunctionApp.Benchmarks.OnnxRuntimeFloor.Run(model, input);
if (args is ["encode-jpeg", var jpegIn, var jpegOut, var jpegWidth, var jpegHeight, var jpegQuality])
    return FunctionApp.Benchmarks.PerfFixtures.EncodeJpeg(jpegIn, jpegOut, int.Parse(jpegWidth, System.Globalization.CultureInfo.InvariantCulture), int.Parse(jpegHeight, System.Globalization.CultureInfo.InvariantCulture), int.Parse(jpegQuality, System.Globalization.CultureInfo.InvariantCulture));
if (args is ["ort-throughput", var ortModel, var ortInput, var ortSeconds])
    return FunctionApp.Benchmarks.PerfFixtures.Throughput(ortModel, ortInput, double.Parse(ortSeconds, System.Globalization.CultureInfo.InvariantCulture));
if (args is ["request-floor", var floorPackage, var floorImage, var floorSeconds])
    return FunctionApp.Benchmarks.RequestFloor.Run(floorPackage, floorImage, double.Parse(floorSeconds, System.Globalization.CultureInfo.InvariantCulture));
if (args is ["slice-memory", "prepare", var count, var partition, var directory])
    return FunctionApp.Benchmarks.SliceMemory.Prepare(int.Parse(count, System.Globalization.CultureInfo.InvariantCulture), partition, directory);
if (args is ["slice-memory", "run", var mode, var sliceDirectory])
    return FunctionApp.Benchmarks.SliceMemory.Run(mode, sliceDirectory);
if (args is ["fairness", var app, ..])
    return await FunctionApp.Benchmarks.Fairness.RunAsync(app, args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 2000, args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 5);
if (args is ["scale-out", var scaleApp, var scaleImages, var scaleEntries, var scaleRounds, .. var scaleLayouts] && scaleLayouts.Length > 0)
    return await FunctionApp.Benchmarks.ScaleOut.RunAsync(scaleApp, scaleImages, int.Parse(scaleEntries, System.Globalization.CultureInfo.InvariantCulture), int.Parse(scaleRounds, System.Globalization.CultureInfo.InvariantCulture), scaleLayouts);
if (args is ["quantized-throughput", var qRoot, var qName, var qFloat, var qInt8, var qImages, ..])
    return await FunctionApp.Benchmarks.QuantizedThroughput.RunAsync(qRoot, qName, qFloat, qInt8, qImages, args.Length > 6 ? int.Parse(args[6], System.Globalization.CultureInfo.InvariantCulture) : 5);
if (args is ["first-prediction", var fpUrl, var fpImage, var fpExecutable, .. var fpArguments])
    return await FunctionApp.Benchmarks.FirstPrediction.RunAsync(fpUrl, fpImage, fpExecutable, fpArguments);
if (args is ["worker-start", var wsExecutable, var wsMode and ("worker" or "serve")])
    return await FunctionApp.Benchmarks.WorkerStart.RunAsync(wsExecutable, wsMode);
if (args is ["pool-memory", var engines])
    return await FunctionApp.Benchmarks.PoolMemory.RunAsync(int.Parse(engines, System.Globalization.CultureInfo.InvariantCulture));

BenchmarkSwitcher.FromAssembly(typeof(FunctionApp.Benchmarks.SideBySideConfig).Assembly).Run(args, new FunctionApp.Benchmarks.SideBySideConfig());
return 0;
