using System.CommandLine;
using FunctionApp.Training;

namespace FunctionApp.Cli;

/// <summary><c>import-fashion-mnist --split train|t10k --out DIR</c>: the IDX files as a labelled PNG folder.</summary>
internal static class ImportFashionMnistCommand
{
    public static Command Create()
    {
        var source = new Option<DirectoryInfo>("--source") { Description = "Folder with the Fashion-MNIST .gz files.", DefaultValueFactory = _ => new DirectoryInfo(FashionMnistImporter.DefaultSource) };
        var split = new Option<string>("--split") { Description = "train (60,000 images) or t10k (the 10,000 test images).", DefaultValueFactory = _ => "t10k" };
        split.AcceptOnlyFromAmong("train", "t10k");
        var output = new Option<DirectoryInfo>("--out") { Description = "Where to write one subfolder of PNGs per class.", Required = true };
        var maxPerClass = new Option<int?>("--max-per-class") { Description = "Write at most this many images of each class." };

        var command = new Command("import-fashion-mnist", "Write Fashion-MNIST as a labelled folder of PNG images.") { source, split, output, maxPerClass };
        command.SetAction((parse, ct) => CommandLineApp.RunGuardedAsync(parse, async writer =>
        {
            int written;
            using (var progress = CliProgress.Start(parse, "import-fashion-mnist", 0, "images"))
            {
                written = FashionMnistImporter.Import(parse.GetValue(source)!.FullName, parse.GetValue(split)!, parse.GetValue(output)!.FullName, parse.GetValue(maxPerClass), progress);
                progress.Complete();
            }

            await writer.WriteLineAsync($"Wrote {written} images to {parse.GetValue(output)!.FullName}");
            return 0;
        }));
        return command;
    }
}
