using BenchmarkDotNet.Running;
using WootricGateway.Benchmarks;

if (args.Length > 0 && args[0] == "loop")
{
    return SpeedLoop.Run(args);
}

BenchmarkSwitcher.FromAssembly(typeof(ParserBenchmarks).Assembly).Run(args);
return 0;
