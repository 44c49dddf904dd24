using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using FunctionApp.Tests.Support;
using SkiaSharp;

namespace FunctionApp.Tests.Hostile;

/// <summary>What a hostile request may be answered with: any status under 500, or exactly one status.</summary>
public sealed record HostileCase(RawRequest Request, int? Expected = null);

/// <summary>
/// A seeded generator of hostile requests against <c>/api/predict</c> and <c>/v2/models/{m}/infer</c>: random bytes,
/// truncations at many offsets, header-only pixel bombs, malformed multipart, JSON and base64, absurd tensor shapes,
/// slow and stalled bodies, broken chunked framing, huge field counts, and ordinary valid requests among them.
/// </summary>
public static class HostileCorpus
{
    public const string Predict = "/api/predict";

    public static string Infer(string model) => $"/v2/models/{model}/infer";

    public static List<HostileCase> Build(int seed, string model, string inputTensor)
    {
        var random = new Random(seed);
        var cases = new List<HostileCase>();
        var png = Images.Draw(300, 200, c => c.Clear(SKColors.OrangeRed));
        var jpeg = Images.Draw(640, 480, c =>
        {
            c.Clear(SKColors.SkyBlue);
            using var paint = new SKPaint { Color = SKColors.DarkGreen };
            c.DrawCircle(300, 240, 120, paint);
        }, SKEncodedImageFormat.Jpeg, 85);
        string[] contentTypes = ["image/png", "image/jpeg", "application/octet-stream", "application/json", "text/plain", "multipart/form-data; boundary=xyz", "application/x-www-form-urlencoded"];

        // Random bytes under every content type, on both routes.
        for (int i = 0; i < 60; i++)
        {
            var bytes = new byte[random.Next(1, 4096)];
            random.NextBytes(bytes);
            var path = i % 4 == 3 ? Infer(model) : Predict;
            cases.Add(new(RawRequest.Http("random-bytes", $"{bytes.Length} random bytes as {contentTypes[i % contentTypes.Length]}", "POST", path, contentTypes[i % contentTypes.Length], bytes)));
        }

        // Truncations of real images at many offsets (a PNG cut after its pixels may still decode: any answer under 500).
        foreach (var (image, type) in new[] { (png, "image/png"), (jpeg, "image/jpeg") })
        {
            for (int i = 0; i < 40; i++)
            {
                int cut = i == 0 ? 0 : random.Next(1, image.Length);
                cases.Add(new(RawRequest.Http("truncated", $"{type} cut at {cut} of {image.Length} bytes", "POST", Predict, type, image[..cut])));
            }
        }

        // Headers that declare far too many pixels: refused before any pixel is decoded.
        foreach (var (name, bomb) in PixelBombs())
            cases.Add(new(RawRequest.Http("pixel-bomb", name, "POST", Predict, "application/octet-stream", bomb), 413));

        AddMultipart(cases, random, png);
        AddJson(cases, random, png, model);
        AddOpenInference(cases, random, png, model, inputTensor);
        AddFraming(cases, png, model);

        // Ordinary requests among the hostile ones: they must still be answered.
        for (int i = 0; i < 24; i++)
        {
            var valid = (i % 4) switch
            {
                0 => RawRequest.Http("valid", "raw PNG", "POST", Predict + "?top=2", "image/png", png),
                1 => RawRequest.Http("valid", "raw JPEG", "POST", Predict, "image/jpeg", jpeg),
                2 => RawRequest.Http("valid", "JSON base64", "POST", Predict, "application/json", Encoding.UTF8.GetBytes($$"""{"image": "{{Convert.ToBase64String(png)}}"}""")),
                _ => RawRequest.Http("valid", "v2 BYTES", "POST", Infer(model), "application/json", Encoding.UTF8.GetBytes($$"""{"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["{{Convert.ToBase64String(jpeg)}}"]}]}""")),
            };
            cases.Add(new(valid, 200));
        }

        return cases;
    }

    /// <summary>Requests that are paced on the wire: a body that trickles, and one that stops arriving.</summary>
    public static List<HostileCase> SlowBodies(string model)
    {
        var body = new byte[4000];
        return
        [
            new(RawRequest.Http("slow-body", "a body trickling at 2 bytes every 500 ms", "POST", Predict, "image/png", body) with { PauseEvery = TimeSpan.FromMilliseconds(500), TrickleBytes = 2 }, 408),
            new(RawRequest.Http("slow-body", "a body that stops after 10 of 4,000 bytes", "POST", Predict, "image/png", body) with { StallAfter = 10 }, 408),
            new(RawRequest.Http("slow-body", "a JSON body trickling on /v2", "POST", Infer(model), "application/json", body) with { PauseEvery = TimeSpan.FromMilliseconds(500), TrickleBytes = 2 }, 408),
            new(RawRequest.Http("slow-body", "a JSON body that stops on /v2", "POST", Infer(model), "application/json", body) with { StallAfter = 10 }, 408),
            new(RawRequest.Http("slow-body", "a multipart body that stops", "POST", Predict, "multipart/form-data; boundary=xyz", Encoding.ASCII.GetBytes("--xyz\r\nContent-Disposition: form-data; name=\"a\"; filename=\"a.png\"\r\n\r\n" + new string('x', 3000))) with { StallAfter = 40 }, 408),
        ];
    }

    private static IEnumerable<(string Name, byte[] Bytes)> PixelBombs()
    {
        yield return ("PNG declaring 100000x100000", Png(100_000, 100_000));
        yield return ("PNG declaring 65535x65535", Png(65_535, 65_535));
        yield return ("PNG declaring 7000x7000", Png(7_000, 7_000));
        yield return ("GIF declaring 65535x65535", Gif(65_535, 65_535));
        yield return ("BMP declaring 50000x50000", Bmp(50_000, 50_000));
        yield return ("JPEG declaring 65000x65000", Jpeg(65_000, 65_000));
        yield return ("JPEG declaring 20000x3000", Jpeg(20_000, 3_000));
    }

    private static void AddMultipart(List<HostileCase> cases, Random random, byte[] png)
    {
        string Part(string boundary, string name, string? fileName, string body, string? extraHeader = null) =>
            $"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"" + (fileName is null ? string.Empty : $"; filename=\"{fileName}\"") + "\r\n" + (extraHeader ?? string.Empty) + "\r\n" + body + "\r\n";
        RawRequest Multipart(string description, string contentType, string body, int? expected = null) =>
            RawRequest.Http("multipart", description, "POST", Predict, contentType, Encoding.Latin1.GetBytes(body));

        var longBoundary = new string('b', 200);
        cases.Add(new(Multipart("a 200-character boundary", $"multipart/form-data; boundary={longBoundary}", Part(longBoundary, "a", "a.png", "x") + $"--{longBoundary}--\r\n"), 400));
        var fields = new StringBuilder();
        for (int i = 0; i < 2000; i++)
            fields.Append(Part("f", $"field{i}", null, "v"));
        fields.Append("--f--\r\n");
        cases.Add(new(Multipart("2,000 text fields", "multipart/form-data; boundary=f", fields.ToString()), 400));
        cases.Add(new(Multipart("a 20 KB part header", "multipart/form-data; boundary=h", Part("h", "a", "a.png", "x", "X-Padding: " + new string('p', 20_000) + "\r\n") + "--h--\r\n"), 400));
        cases.Add(new(Multipart("no boundary parameter", "multipart/form-data", Part("z", "a", "a.png", "x") + "--z--\r\n")));
        cases.Add(new(Multipart("a body that never closes its last part", "multipart/form-data; boundary=q", "--q\r\nContent-Disposition: form-data; name=\"a\"; filename=\"a.png\"\r\n\r\nabc")));
        cases.Add(new(Multipart("only text fields, no file", "multipart/form-data; boundary=t", Part("t", "note", null, "hello") + "--t--\r\n"), 400));
        cases.Add(new(Multipart("a part without Content-Disposition", "multipart/form-data; boundary=d", "--d\r\nContent-Type: image/png\r\n\r\nabc\r\n--d--\r\n")));
        cases.Add(new(Multipart("a boundary that never appears", "multipart/form-data; boundary=never", "just text\r\n")));
        var many = new StringBuilder();
        for (int i = 0; i < 80; i++)
            many.Append(Part("m", $"f{i}", $"{i}.png", Encoding.Latin1.GetString(png)));
        many.Append("--m--\r\n");
        cases.Add(new(Multipart("80 files, over the per-request image limit", "multipart/form-data; boundary=m", many.ToString()), 400));
        for (int i = 0; i < 20; i++)
        {
            var junk = new byte[random.Next(10, 2000)];
            random.NextBytes(junk);
            cases.Add(new(Multipart($"a file of {junk.Length} random bytes", "multipart/form-data; boundary=r", Part("r", "a", "a.png", Encoding.Latin1.GetString(junk)) + "--r--\r\n")));
        }
    }

    private static void AddJson(List<HostileCase> cases, Random random, byte[] png, string model)
    {
        void Json(string description, string body, int? expected = 400, string path = Predict) =>
            cases.Add(new(RawRequest.Http("json", description, "POST", path, "application/json", Encoding.UTF8.GetBytes(body)), expected));
        var good = $$"""{"images": [{"name": "a", "data": "{{Convert.ToBase64String(png)}}"}]}""";
        for (int i = 0; i < 25; i++)
        {
            int cut = random.Next(1, good.Length - 1);
            Json($"JSON cut at {cut}", good[..cut]);
        }

        Json("images: [null]", """{"images": [null]}""");
        Json("image: a number", """{"image": 5}""");
        Json("images: an object", """{"images": {}}""");
        Json("images: [{data: 5}]", """{"images": [{"data": 5}]}""");
        Json("images: [{}]", """{"images": [{}]}""");
        Json("image: not base64", """{"image": "%%%not base64%%%"}""");
        Json("image: an empty data URL", """{"image": "data:image/png;base64,"}""");
        Json("image: base64 of text", """{"image": "aGVsbG8gd29ybGQ="}""", 415);
        Json("an empty object", "{}");
        Json("null", "null");
        Json("a bare string", "\"image\"");
        Json("nesting 5,000 deep", new string('[', 5000) + new string(']', 5000));
        Json("a byte-order mark then JSON", "\uFEFF{\"image\": 5}");
        Json("100 images, over the per-request limit", "{\"images\": [" + string.Join(",", Enumerable.Range(0, 100).Select(i => $"{{\"name\": \"{i}\", \"data\": \"{Convert.ToBase64String(png)}\"}}")) + "]}");
        var keys = new StringBuilder("{");
        for (int i = 0; i < 50_000; i++)
            keys.Append(CultureInfo.InvariantCulture, $"\"k{i}\": {i},");
        keys.Append("\"image\": 5}");
        Json("50,000 unknown fields", keys.ToString());
        Json("v2: 50,000 parameters", "{\"parameters\": " + keys.ToString()[..^1] + "}, \"inputs\": []}", 400, Infer(model));
    }

    private static void AddOpenInference(List<HostileCase> cases, Random random, byte[] png, string model, string inputTensor)
    {
        void V2(string description, string body, int? expected = 400, IEnumerable<(string, string)>? headers = null) =>
            cases.Add(new(RawRequest.Http("v2", description, "POST", Infer(model), "application/json", Encoding.UTF8.GetBytes(body), headers), expected));
        string Fp32(string shape, string data) => $$"""{"inputs": [{"name": "{{inputTensor}}", "shape": {{shape}}, "datatype": "FP32", "data": {{data}}}]}""";

        V2("shape [12622333649500982,3,224,224] with 10 KB of data", Fp32("[12622333649500982, 3, 224, 224]", "[" + string.Join(",", Enumerable.Repeat("0.5", 2500)) + "]"));
        V2("shape [18014398509481984,3,224,224] with no data", Fp32("[18014398509481984, 3, 224, 224]", "[]"));
        V2("shape [9223372036854775807,3,224,224]", Fp32("[9223372036854775807, 3, 224, 224]", "[]"));
        V2("shape [-1,3,224,224]", Fp32("[-1, 3, 224, 224]", "[]"));
        V2("shape [0,3,224,224]", Fp32("[0, 3, 224, 224]", "[]"));
        V2("shape [1,3,224,224] with one value", Fp32("[1, 3, 224, 224]", "[1]"));
        V2("shape [1,3,224,224] with strings", Fp32("[1, 3, 224, 224]", "[\"a\", \"b\"]"));
        V2("shape [1,3,224,224] with NaN-like values", Fp32("[1, 3, 224, 224]", "[1e400, -1e400]"));
        V2("shape [1,3,224] (three dimensions)", Fp32("[1, 3, 224]", "[]"));
        V2("shape [65,3,224,224], over the batch limit", Fp32("[65, 3, 224, 224]", "[]"));
        V2("shape [1,3,99999999999,224]", Fp32("[1, 3, 99999999999, 224]", "[]"));
        V2("shape holding a string", Fp32("[\"1\", 3, 224, 224]", "[]"));
        V2("shape null", Fp32("null", "[]"));
        V2("BYTES shape [1000000]", """{"inputs": [{"name": "image", "shape": [1000000], "datatype": "BYTES", "data": ["aGk="]}]}""");
        V2("BYTES shape [2] with one image", """{"inputs": [{"name": "image", "shape": [2], "datatype": "BYTES", "data": ["aGk="]}]}""");
        V2("BYTES shape [70] with 70 images", "{\"inputs\": [{\"name\": \"image\", \"shape\": [70], \"datatype\": \"BYTES\", \"data\": [" + string.Join(",", Enumerable.Repeat($"\"{Convert.ToBase64String(png)}\"", 70)) + "]}]}");
        V2("BYTES holding numbers", """{"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": [5]}]}""");
        V2("BYTES holding invalid base64", """{"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["%%%"]}]}""");
        V2("datatype INT8", """{"inputs": [{"name": "image", "shape": [1], "datatype": "INT8", "data": [1]}]}""");
        V2("no inputs", """{"inputs": []}""");
        V2("inputs null", """{"inputs": null}""");
        V2("two inputs", """{"inputs": [{"name": "a", "shape": [1], "datatype": "BYTES", "data": ["aGk="]}, {"name": "b", "shape": [1], "datatype": "BYTES", "data": ["aGk="]}]}""");
        V2("an unknown output", $$"""{"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["{{Convert.ToBase64String(png)}}"]}], "outputs": [{"name": "logits"}]}""");
        V2("classification -3", $$$"""{"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["{{{Convert.ToBase64String(png)}}}"]}], "outputs": [{"name": "probabilities", "parameters": {"classification": -3}}]}""");
        V2("classification as a string", $$$"""{"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["{{{Convert.ToBase64String(png)}}}"]}], "outputs": [{"name": "probabilities", "parameters": {"classification": "five"}}]}""");
        V2("the binary data extension", "{}", 415, [("Inference-Header-Content-Length", "2")]);
        for (int i = 0; i < 20; i++)
        {
            var noise = new byte[random.Next(2, 300)];
            random.NextBytes(noise);
            V2($"{noise.Length} random bytes inside a JSON string", "{\"inputs\": [{\"name\": \"image\", \"shape\": [1], \"datatype\": \"BYTES\", \"data\": [\"" + Convert.ToBase64String(noise) + "\"]}]}", null);
        }

        cases.Add(new(RawRequest.Http("v2", "an unknown model", "POST", Infer("no-such-model"), "application/json", "{}"u8.ToArray()), 404));
        cases.Add(new(RawRequest.Http("v2", "a model name that climbs out", "POST", "/v2/models/..%2F..%2Fetc/infer", "application/json", "{}"u8.ToArray()), 404));
    }

    private static void AddFraming(List<HostileCase> cases, byte[] png, string model)
    {
        RawRequest Chunked(string description, string path, string chunks) =>
            new("chunked", description, Encoding.ASCII.GetBytes($"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n"), Encoding.ASCII.GetBytes(chunks));
        foreach (var path in new[] { Predict, Infer(model) })
        {
            cases.Add(new(Chunked("a chunk size that is not hex", path, "zz\r\nabc\r\n0\r\n\r\n"), 400));
            cases.Add(new(Chunked("a chunk size that overflows", path, "FFFFFFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n")));
            cases.Add(new(Chunked("a chunk longer than its size", path, "2\r\nabcdef\r\n0\r\n\r\n"), 400));
            cases.Add(new(Chunked("chunk data without its line end", path, "3\r\nabcXX0\r\n\r\n"), 400));
        }

        cases.Add(new(RawRequest.Http("headers", "no Content-Type", "POST", Predict, null, png), 415));
        cases.Add(new(RawRequest.Http("headers", "Content-Type with junk parameters", "POST", Predict, "image/png; ;;;=;charset", png)));
        cases.Add(new(RawRequest.Http("headers", "a Content-Type of 4 KB", "POST", Predict, "image/" + new string('x', 4000), png)));
        cases.Add(new(RawRequest.Http("headers", "40 KB of request headers", "POST", Predict, "image/png", png, [("X-Padding", new string('p', 40_000))]), 431));
        cases.Add(new(RawRequest.Http("headers", "a Content-Length of a petabyte", "POST", Predict, "image/png", [], [("Content-Length", "1125899906842624")], declareLength: false), 413));
        cases.Add(new(RawRequest.Http("headers", "top=99999999999999999999", "POST", Predict + "?top=99999999999999999999", "image/png", png), 400));
        cases.Add(new(RawRequest.Http("headers", "top=-1", "POST", Predict + "?top=-1", "image/png", png), 400));
        cases.Add(new(RawRequest.Http("headers", "version=../../etc", "POST", Predict + "?version=..%2F..%2Fetc", "image/png", png), 404));
        cases.Add(new(RawRequest.Http("headers", "model=a 10,000-character name", "POST", Predict + "?model=" + new string('m', 10_000), "image/png", png), 414));
        cases.Add(new(RawRequest.Http("headers", "model=a 2,000-character name", "POST", Predict + "?model=" + new string('m', 2_000), "image/png", png), 404));
    }

    private static byte[] Png(int width, int height)
    {
        var bytes = new byte[8 + 25];
        new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }.CopyTo(bytes, 0);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), 13);
        "IHDR"u8.CopyTo(bytes.AsSpan(12));
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(16), width);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(20), height);
        bytes[24] = 8;
        bytes[25] = 6;
        var crc = Crc32(bytes.AsSpan(12, 17));
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(29), crc);
        return bytes;
    }

    /// <summary>PNG's chunk checksum (CRC-32, polynomial 0xEDB88320).</summary>
    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }

        return ~crc;
    }

    private static byte[] Gif(int width, int height)
    {
        var bytes = new byte[13];
        "GIF89a"u8.CopyTo(bytes);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(6), (ushort)width);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)height);
        return bytes;
    }

    private static byte[] Bmp(int width, int height)
    {
        var bytes = new byte[54];
        bytes[0] = (byte)'B';
        bytes[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(2), 54);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(22), height);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(26), 1);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(28), 24);
        return bytes;
    }

    private static byte[] Jpeg(int width, int height)
    {
        // SOI, then a baseline SOF0 declaring the size (a decoder reads the size from here, before any pixel).
        var bytes = new List<byte> { 0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08 };
        bytes.AddRange([(byte)(height >> 8), (byte)height, (byte)(width >> 8), (byte)width, 0x03]);
        for (byte c = 1; c <= 3; c++)
            bytes.AddRange([c, 0x11, 0x00]);
        bytes.AddRange([0xFF, 0xD9]);
        return [.. bytes];
    }
}
