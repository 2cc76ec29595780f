package dev.hrda.cli;

import dev.hrda.data.SyntheticData;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.HelpFormatter;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

import java.nio.file.Path;

/** {@code hrda synth --out DIR [--seed S] [--size WxH] [--count N]}. */
final class SynthCommand implements Command {
    @Override public String name() { return "synth"; }

    @Override public String summary() { return "draw the synthetic GTA-style / Cityscapes-style benchmark"; }

    @Override
    public int run(String[] args) throws Exception {
        Options opts = new Options()
                .addOption(Option.builder().longOpt("out").hasArg().argName("DIR").desc("output directory (required)").build())
                .addOption(Option.builder().longOpt("seed").hasArg().argName("S").desc("random seed (default 0)").build())
                .addOption(Option.builder().longOpt("size").hasArg().argName("WxH")
                                   .desc("image size (default " + SyntheticData.DEFAULT_WIDTH + "x" + SyntheticData.DEFAULT_HEIGHT + ")").build())
                .addOption(Option.builder().longOpt("count").hasArg().argName("N")
                                   .desc("source images (default " + SyntheticData.DEFAULT_COUNT + "); target: N/2 train, N/4 val").build())
                .addOption(Option.builder().longOpt("nproc").hasArg().argName("N").desc("worker threads (default: cores)").build())
                .addOption(Option.builder().longOpt("no-convert").desc("leave the label ids unconverted").build())
                .addOption(Option.builder("q").longOpt("quiet").desc("no progress bar").build())
                .addOption(Option.builder("h").longOpt("help").desc("this help").build());
        CommandLine cl = new DefaultParser().parse(opts, args);
        if (cl.hasOption("help") || !cl.hasOption("out")) {
            new HelpFormatter().printHelp("hrda synth --out DIR", "\nWrites DIR/gta (source) and DIR/cityscapes (target train/val) "
                                                                  + "in the original layouts, then converts them.\n\n", opts, "");
            return cl.hasOption("help") ? 0 : 2;
        }
        int[] size = parseSize(cl.getOptionValue("size", SyntheticData.DEFAULT_WIDTH + "x" + SyntheticData.DEFAULT_HEIGHT));
        long seed = Long.parseLong(cl.getOptionValue("seed", "0"));
        int count = Integer.parseInt(cl.getOptionValue("count", String.valueOf(SyntheticData.DEFAULT_COUNT)));
        int nproc = Integer.parseInt(cl.getOptionValue("nproc", String.valueOf(Runtime.getRuntime().availableProcessors())));
        long t0 = System.nanoTime();
        SyntheticData.Summary s = SyntheticData.write(Path.of(cl.getOptionValue("out")), seed, size[0], size[1], count, nproc,
                                                      !cl.hasOption("no-convert"), !cl.hasOption("quiet"));
        System.out.printf("source  gta        %s  %d images %dx%d%n", s.gtaRoot(), s.source(), size[0], size[1]);
        System.out.printf("target  cityscapes %s  %d train + %d val images%n", s.cityscapesRoot(), s.targetTrain(), s.targetVal());
        boolean ok = true;
        for (var r : new dev.hrda.data.Converter.Report[] {s.gtaReport(), s.cityscapesReport()}) {
            if (r == null) continue;
            for (String e : r.errors()) System.err.println("error: " + e);
            ok &= r.ok();
        }
        System.out.printf("done in %.1f s%n", (System.nanoTime() - t0) / 1e9);
        return ok ? 0 : 1;
    }

    static int[] parseSize(String s) {
        String[] p = s.toLowerCase().split("x");
        if (p.length != 2) throw new IllegalArgumentException("size must be WxH, e.g. 512x256: " + s);
        return new int[] {Integer.parseInt(p[0].trim()), Integer.parseInt(p[1].trim())};
    }
}
