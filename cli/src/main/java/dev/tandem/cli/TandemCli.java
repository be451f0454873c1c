package dev.tandem.cli;

import dev.tandem.cli.bench.BenchCommand;
import dev.tandem.cli.chaos.ChaosCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code bin/tandem}: the local cluster, operator commands, the chaos checker and benchmarks. */
@Command(name = "tandem", mixinStandardHelpOptions = true, version = "tandem 0.1.0",
        description = "Tandem: a replicated key-value store. Local cluster, operator commands, chaos checker, benchmarks.",
        subcommands = {LocalCommand.class, OperatorCommands.Status.class, OperatorCommands.Switchover.class,
                ChaosCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class TandemCli implements Runnable {

    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }

    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new TandemCli());
        // Operating errors (no cluster, a replica not running) are messages with a next step, not stack traces.
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (ex instanceof IllegalStateException || ex instanceof IllegalArgumentException || ex instanceof java.io.UncheckedIOException) {
                cmd.getErr().println("tandem: " + ex.getMessage());
                if (System.getenv("TANDEM_DEBUG") != null) {
                    ex.printStackTrace(cmd.getErr());
                }
                return 2;
            }
            throw ex;
        });
        return cl.execute(args);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }
}
