package dev.hrda.cli;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code hrda <command> [options]}. Commands register here; each parses its own options with
 * Commons CLI and prints its own --help.
 */
public final class Main {
    private static final Map<String, Command> COMMANDS = new LinkedHashMap<>();

    static {
        register(new InfoCommand());
        register(new TestCommand());
        register(new DemoCommand());
        register(new QuickstartCommand());
        register(new TrainCommand());
        register(new ExportCommand());
        register(new ConvertCommand());
        register(new DataCheckCommand());
        register(new SynthCommand());
        register(new BenchDataCommand());
        register(new ActiveCommand.Select());
        register(new ActiveCommand.Import());
    }

    private Main() {}

    static void register(Command c) {
        COMMANDS.put(c.name(), c);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String[] args) {
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help") || args[0].equals("help")) {
            usage();
            return args.length == 0 ? 2 : 0;
        }
        // two-word commands ("data check") first
        Command c = args.length > 1 ? COMMANDS.get(args[0] + " " + args[1]) : null;
        int skip = 2;
        if (c == null) {
            c = COMMANDS.get(args[0]);
            skip = 1;
        }
        if (c == null) {
            System.err.println("hrda: unknown command '" + args[0] + "'");
            usage();
            return 2;
        }
        try {
            return c.run(Arrays.copyOfRange(args, skip, args.length));
        } catch (Exception e) {
            System.err.println("hrda " + c.name() + ": " + e.getMessage());
            if (System.getenv("HRDA_DEBUG") != null) e.printStackTrace();
            return 1;
        }
    }

    private static void usage() {
        System.err.println("usage: hrda <command> [options]   (hrda <command> --help for its options)");
        for (Command c : COMMANDS.values()) System.err.printf("  %-12s %s%n", c.name(), c.summary());
    }
}
