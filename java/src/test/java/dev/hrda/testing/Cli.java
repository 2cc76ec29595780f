package dev.hrda.testing;

import dev.hrda.cli.Main;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;

/** Runs {@code hrda} in-process through its entry point, capturing what it prints. */
public final class Cli {
    private Cli() {}

    public record Run(int status, String out, String err) {}

    public static Run run(String... args) {
        PrintStream o = System.out, e = System.err;
        ByteArrayOutputStream bo = new ByteArrayOutputStream(), be = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(bo, true));
            System.setErr(new PrintStream(be, true));
            int st = Main.run(args);
            return new Run(st, bo.toString(), be.toString());
        } finally {
            System.setOut(o);
            System.setErr(e);
        }
    }
}
