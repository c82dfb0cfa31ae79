using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(WootricGateway.Benchmarks.ParserBenchmarks).Assembly).Run(args);
