package dev.hrda.cli;

import dev.hrda.data.DataCheck;
import dev.hrda.data.DatasetKind;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.HelpFormatter;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

import java.nio.file.Path;

/** {@code hrda data check <dataset> <root> [--split S] [--nproc N]}. */
final class DataCheckCommand implements Command {
    @Override public String name() { return "data check"; }

    @Override public String summary() { return "read every image/label pair of a data set and report problems by file"; }

    @Override
    public int run(String[] args) throws Exception {
        Options opts = new Options()
                .addOption(Option.builder().longOpt("split").hasArg().argName("S").desc("only this split (default: all)").build())
                .addOption(Option.builder().longOpt("nproc").hasArg().argName("N").desc("worker threads (default: cores)").build())
                .addOption(Option.builder("q").longOpt("quiet").desc("no progress bar").build())
                .addOption(Option.builder("h").longOpt("help").desc("this help").build());
        CommandLine cl = new DefaultParser().parse(opts, args);
        if (cl.hasOption("help") || cl.getArgList().size() != 2) {
            new HelpFormatter().printHelp("hrda data check <dataset> <root>", "\ndatasets: " + DatasetKind.names() + "\n\n", opts,
                                          "\nExit status 1 when any problem is found.");
            return cl.hasOption("help") ? 0 : 2;
        }
        DatasetKind kind = DatasetKind.parse(cl.getArgList().get(0));
        Path root = Path.of(cl.getArgList().get(1));
        int nproc = Integer.parseInt(cl.getOptionValue("nproc", String.valueOf(Runtime.getRuntime().availableProcessors())));
        DataCheck.Report r = DataCheck.check(kind, root, cl.getOptionValue("split"), nproc, !cl.hasOption("quiet"));
        for (DataCheck.Problem p : r.problems()) System.out.println(p);
        for (String n : r.notes()) System.out.println("note: " + n);
        System.out.printf("%s %s: %d images, %d labels checked, %d problem(s)%n", kind, root, r.images(), r.labels(), r.problems().size());
        return r.ok() ? 0 : 1;
    }
}
