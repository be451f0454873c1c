package dev.tandem.cli.bench;
import picocli.CommandLine.Command;
@Command(name = "bench", description = "Benchmarks (in progress).")
public final class BenchCommand implements Runnable { public void run() { throw new IllegalStateException("bench: not implemented yet"); } }
