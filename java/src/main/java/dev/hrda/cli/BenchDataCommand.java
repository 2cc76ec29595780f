package dev.hrda.cli;

import dev.hrda.data.Batch;
import dev.hrda.data.Converter;
import dev.hrda.data.Dataset;
import dev.hrda.data.DatasetKind;
import dev.hrda.data.Loader;
import dev.hrda.data.Pipeline;
import dev.hrda.data.PipelineConfig;
import dev.hrda.data.RareClassSampler;
import dev.hrda.data.RareClassStats;
import dev.hrda.data.SyntheticData;
import dev.hrda.data.UdaData;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.HelpFormatter;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;
import org.bytedeco.opencv.global.opencv_core;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * {@code hrda bench data}: images/s of the HRDA source pipeline (GTA resized to 2560x1407,
 * rare class sampling, 1024x1024 crops with cat_max_ratio, flip, normalise) through the
 * background loader. Without --root it draws GTA-sized (1914x1052) synthetic frames first.
 */
final class BenchDataCommand implements Command {
    @Override public String name() { return "bench data"; }

    @Override public String summary() { return "images/s of the HRDA source data pipeline"; }

    @Override
    public int run(String[] args) throws Exception {
        Options opts = new Options()
                .addOption(Option.builder().longOpt("dataset").hasArg().desc("data set kind (default gta)").build())
                .addOption(Option.builder().longOpt("root").hasArg().argName("DIR").desc("data root (default: synthetic GTA-sized frames)").build())
                .addOption(Option.builder().longOpt("scale").hasArg().argName("WxH").desc("resize scale (default 2560x1440)").build())
                .addOption(Option.builder().longOpt("crop").hasArg().desc("crop size (default 1024)").build())
                .addOption(Option.builder().longOpt("workers").hasArg().desc("loader threads (default: cores)").build())
                .addOption(Option.builder().longOpt("batch").hasArg().desc("batch size (default 2)").build())
                .addOption(Option.builder().longOpt("batches").hasArg().desc("batches to time (default 20)").build())
                .addOption(Option.builder().longOpt("no-rcs").desc("uniform source sampling").build())
                .addOption(Option.builder("h").longOpt("help").desc("this help").build());
        CommandLine cl = new DefaultParser().parse(opts, args);
        if (cl.hasOption("help")) {
            new HelpFormatter().printHelp("hrda bench data", opts);
            return 0;
        }
        DatasetKind kind = DatasetKind.parse(cl.getOptionValue("dataset", "gta"));
        int[] scale = SynthCommand.parseSize(cl.getOptionValue("scale", "2560x1440"));
        int crop = Integer.parseInt(cl.getOptionValue("crop", "1024"));
        int workers = Integer.parseInt(cl.getOptionValue("workers", String.valueOf(Runtime.getRuntime().availableProcessors())));
        int batch = Integer.parseInt(cl.getOptionValue("batch", "2"));
        int batches = Integer.parseInt(cl.getOptionValue("batches", "20"));
        Path root;
        Path tmp = null;
        if (cl.hasOption("root")) {
            root = Path.of(cl.getOptionValue("root"));
        } else {
            if (kind != DatasetKind.GTA) throw new IllegalArgumentException("--root is required for " + kind);
            tmp = Files.createTempDirectory("hrda-bench");
            System.err.println("drawing 8 synthetic GTA-sized frames (1914x1052) in " + tmp);
            SyntheticData.write(tmp, 0, 1914, 1052, 8, workers, true, false);
            root = tmp.resolve("gta");
        }
        try {
            PipelineConfig cfg = PipelineConfig.source(scale[0], scale[1], crop);
            Pipeline pipe = new Pipeline(cfg);
            String split = kind.layout().statsSplit() == null ? "all" : kind.layout().statsSplit();
            RareClassSampler rcs = null;
            if (!cl.hasOption("no-rcs")) {
                RareClassStats stats = Converter.ensureStats(kind, root, workers);
                rcs = RareClassSampler.hrda(stats, 2.0);
            }
            Dataset ds = Dataset.open(kind, root, split, true);
            UdaData data = UdaData.sourceOnly(ds, pipe, rcs);

            // single-thread stage timing
            opencv_core.setNumThreads(1);
            int warm = 4, n1 = 8;
            long tPrep = 0, tFin = 0;
            SplittableRandom rng = new SplittableRandom(1);
            for (int i = 0; i < warm + n1; i++) {
                long a = System.nanoTime();
                try (Pipeline.Prepared p = pipe.prepare(ds.get(i % ds.size()))) {
                    long b = System.nanoTime();
                    pipe.finish(p, pipe.sampleCrop(p, rng), rng);
                    long c = System.nanoTime();
                    if (i >= warm) {
                        tPrep += b - a;
                        tFin += c - b;
                    }
                }
            }
            System.out.printf("one thread: decode+check+resize %.1f ms, crop+flip+normalise %.1f ms per image%n",
                              tPrep / 1e6 / n1, tFin / 1e6 / n1);

            UdaData.LoaderOptions lo = new UdaData.LoaderOptions(batch, 0, workers, 2 * workers, false);
            try (Loader<Batch> loader = data.sourceLoader(lo)) {
                for (int i = 0; i < 2; i++) loader.next().close(); // warm-up
                long t0 = System.nanoTime();
                for (int i = 0; i < batches; i++) loader.next().close();
                double s = (System.nanoTime() - t0) / 1e9;
                System.out.printf("%s source pipeline (%dx%d scale, %d^2 crops, %s): %d workers, batch %d: %.2f images/s (%.1f batches/s)%n",
                                  kind, scale[0], scale[1], crop, rcs != null ? "RCS" : "uniform", workers, batch,
                                  batches * batch / s, batches / s);
            }
            return 0;
        } finally {
            if (tmp != null) deleteTree(tmp);
        }
    }

    static void deleteTree(Path p) throws java.io.IOException {
        try (var s = Files.walk(p)) {
            for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }
}
