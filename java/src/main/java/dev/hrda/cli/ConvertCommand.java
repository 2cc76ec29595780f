package dev.hrda.cli;

import dev.hrda.data.Converter;
import dev.hrda.data.DatasetKind;
import dev.hrda.data.RareClassStats;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.HelpFormatter;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

import java.nio.file.Path;

/** {@code hrda convert <dataset> <root> [--nproc N] [--force]}. */
final class ConvertCommand implements Command {
    @Override public String name() { return "convert"; }

    @Override public String summary() { return "write *_labelTrainIds.png and rare-class statistics of a data set"; }

    @Override
    public int run(String[] args) throws Exception {
        Options opts = new Options()
                .addOption(Option.builder().longOpt("nproc").hasArg().argName("N").desc("worker threads (default: cores)").build())
                .addOption(Option.builder().longOpt("force").desc("rewrite train-id files even if up to date").build())
                .addOption(Option.builder("q").longOpt("quiet").desc("no progress bar").build())
                .addOption(Option.builder("h").longOpt("help").desc("this help").build());
        CommandLine cl = new DefaultParser().parse(opts, args);
        if (cl.hasOption("help") || cl.getArgList().size() != 2) {
            new HelpFormatter().printHelp("hrda convert <dataset> <root>", "\ndatasets: " + DatasetKind.names() + "\n\n", opts,
                                          "\nRaw files are never modified; every output is written atomically.");
            return cl.hasOption("help") ? 0 : 2;
        }
        DatasetKind kind = DatasetKind.parse(cl.getArgList().get(0));
        Path root = Path.of(cl.getArgList().get(1));
        int nproc = Integer.parseInt(cl.getOptionValue("nproc", String.valueOf(Runtime.getRuntime().availableProcessors())));
        Converter.Report r = Converter.convert(kind, root, new Converter.Options(nproc, cl.hasOption("force"), !cl.hasOption("quiet")));
        System.out.printf("%s %s: %d raw label files, %d written, %d up to date%n", kind, root, r.rawLabels(), r.written(), r.kept());
        if (r.written() > 0) {
            System.out.printf("  %d pixels mapped to ignore (255) (%.2f%%), of which %d had ids unknown to the %s label definition%n",
                              r.ignoredPixels(), 100.0 * r.ignoredPixels() / Math.max(1, r.convertedPixels()), r.unknownPixels(),
                              kind);
        }
        if (r.statsFiles() > 0) {
            System.out.printf("  rare-class statistics of %d files: %s, %s, %s%n", r.statsFiles(),
                              root.resolve(RareClassStats.SAMPLE_CLASS_STATS), RareClassStats.SAMPLE_CLASS_STATS_DICT,
                              RareClassStats.SAMPLES_WITH_CLASS);
        }
        for (String n : r.notes()) System.out.println("  note: " + n);
        for (String e : r.errors()) System.err.println("error: " + e);
        if (!r.ok()) System.err.println(r.errors().size() + " file(s) with errors");
        return r.ok() ? 0 : 1;
    }
}
