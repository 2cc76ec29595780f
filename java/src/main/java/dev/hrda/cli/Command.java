package dev.hrda.cli;

/** One subcommand of {@code hrda}. */
public interface Command {
    /** Name as typed, e.g. "info" or "data check". */
    String name();

    String summary();

    /** Runs with the arguments after the name; returns the process exit status. */
    int run(String[] args) throws Exception;
}
