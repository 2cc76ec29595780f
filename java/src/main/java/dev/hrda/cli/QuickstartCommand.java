package dev.hrda.cli;

import dev.hrda.backend.Backend;
import dev.hrda.backend.Backends;
import dev.hrda.config.TrainConfig;
import dev.hrda.eval.SegMetrics;
import dev.hrda.train.Trainer;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.HelpFormatter;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code hrda quickstart}: README's main command. Trains the synthetic benchmark's source-only
 * baseline and DAFormer's DACS self-training one after the other (configs/synth/, drawing the
 * data where it is absent), then prints both target mIoUs and the per-class IoU side by side.
 * The iteration count is shortened with the schedule (the poly decay ends at the last iteration),
 * so that both runs fit in about ten minutes on two CPU cores.
 */
final class QuickstartCommand implements Command {
    static final int DEFAULT_ITERS = 250;

    @Override public String name() { return "quickstart"; }

    @Override public String summary() { return "train source-only and DACS on the synthetic benchmark and compare (README's main job)"; }

    @Override
    public int run(String[] args) throws Exception {
        Options opts = new Options()
                .addOption(Option.builder().longOpt("iters").hasArg().argName("N")
                                 .desc("iterations of each run (default " + DEFAULT_ITERS + "; the configs' full schedule is 1000)").build())
                .addOption(Option.builder().longOpt("work-dir").hasArg().argName("DIR").desc("default work_dirs/quickstart").build())
                .addOption(Option.builder().longOpt("device").hasArg().argName("cpu|cuda|auto").desc("backend (default auto)").build())
                .addOption(Option.builder().longOpt("seed").hasArg().argName("N").desc("random seed (default 0)").build())
                .addOption(Option.builder().longOpt("data").hasArg().argName("DIR").desc("where the synthetic benchmark is (drawn if absent; default data/synth)").build())
                .addOption(Option.builder().longOpt("configs").hasArg().argName("DIR").desc("the project's configs/ (default: found beside bin/hrda)").build())
                .addOption(Option.builder("q").longOpt("quiet").desc("no progress bar").build())
                .addOption(Option.builder("h").longOpt("help").desc("this help").build());
        CommandLine cl = new DefaultParser().parse(opts, args);
        if (cl.hasOption("help") || !cl.getArgList().isEmpty()) {
            new HelpFormatter().printHelp("hrda quickstart [options]", "\n", opts, "");
            return cl.hasOption("help") ? 0 : 2;
        }
        int iters = Integer.parseInt(cl.getOptionValue("iters", String.valueOf(DEFAULT_ITERS)));
        if (iters < 1) throw new IllegalArgumentException("--iters " + iters + ": expected 1 or more");
        long seed = Long.parseLong(cl.getOptionValue("seed", "0"));
        Path configs = configsDir(cl.getOptionValue("configs"));
        Path workRoot = Path.of(cl.getOptionValue("work-dir", "work_dirs/quickstart"));
        // warm-up shortened in proportion (100 of 1000), evaluation and a checkpoint at the end only
        List<String> overrides = new ArrayList<>(List.of("runner.max_iters=" + iters, "evaluation.interval=" + iters,
                                                         "checkpoint_config.interval=" + iters, "lr_config.warmup_iters=" + Math.max(1, iters / 10),
                                                         "uda.debug_img_interval=" + iters));
        if (cl.hasOption("data")) {
            Path data = Path.of(cl.getOptionValue("data"));
            overrides.addAll(List.of("synth.root=" + data, "data.train.source.data_root=" + data.resolve("gta"),
                                     "data.train.target.data_root=" + data.resolve("cityscapes"), "data.val.data_root=" + data.resolve("cityscapes"),
                                     "data.test.data_root=" + data.resolve("cityscapes")));
        }
        String[] runs = {"synth_srconly_daformer_small", "synth_dacs_daformer_small"};
        SegMetrics[] results = new SegMetrics[runs.length];
        double[] seconds = new double[runs.length];
        try (Backend backend = Backends.create(cl.getOptionValue("device", "auto"))) {
            for (int r = 0; r < runs.length; r++) {
                TrainConfig cfg = TrainConfig.load(configs.resolve("synth").resolve(runs[r] + ".yaml"), overrides);
                Path workDir = workRoot.resolve(runs[r]);
                TrainCommand.drawSyntheticData(cfg);
                Trainer.Plan plan = TrainCommand.plan(cfg, seed, workDir);
                System.out.printf("[%d/%d] %s: %s, %d iterations, seed %d, %s%n", r + 1, runs.length, cfg.stem(),
                                  TrainCommand.describe(plan.dacs()), iters, seed, backend.describe());
                Trainer.Summary s = Trainer.run(backend, plan, new Trainer.Options(false, null, false, !cl.hasOption("quiet"), -1),
                                                System.out);
                Map.Entry<String, SegMetrics> first = s.metrics().entrySet().iterator().next();
                results[r] = first.getValue();
                seconds[r] = s.seconds();
            }
        }
        System.out.println();
        System.out.println(compare(results[0], results[1]));
        System.out.printf(Locale.ROOT, "target mIoU: source-only %.2f, DACS %.2f (%+.2f) after %d iterations each (%.0f s + %.0f s); "
                          + "logs, checkpoints and debug images in %s%n", results[0].mIoU(), results[1].mIoU(),
                          results[1].mIoU() - results[0].mIoU(), iters, seconds[0], seconds[1], workRoot);
        return 0;
    }

    /** Per-class IoU of the two runs side by side. */
    static String compare(SegMetrics srcOnly, SegMetrics dacs) {
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%-14s %11s %8s%n", "class", "source-only", "DACS"));
        for (int c = 0; c < srcOnly.classNames().size(); c++) {
            b.append(String.format(Locale.ROOT, "%-14s %11s %8s%n", srcOnly.classNames().get(c), pct(srcOnly.iou()[c]), pct(dacs.iou()[c])));
        }
        return b.append(String.format(Locale.ROOT, "%-14s %11.2f %8.2f", "mIoU", srcOnly.mIoU(), dacs.mIoU())).toString();
    }

    private static String pct(double v) {
        return Double.isNaN(v) ? "nan" : String.format(Locale.ROOT, "%.2f", v);
    }

    /** configs/ beside bin/hrda (hrda.home, set by the launcher), else under the working directory. */
    static Path configsDir(String given) {
        if (given != null) return requireConfigs(Path.of(given));
        String home = System.getProperty("hrda.home");
        if (home != null && Files.isDirectory(Path.of(home, "configs"))) return Path.of(home, "configs");
        return requireConfigs(Path.of("configs"));
    }

    private static Path requireConfigs(Path dir) {
        if (!Files.isRegularFile(dir.resolve("synth/synth_dacs_daformer_small.yaml"))) {
            throw new IllegalArgumentException(dir.toAbsolutePath() + ": not the project's configs/ (no synth/synth_dacs_daformer_small.yaml); "
                                               + "pass --configs DIR");
        }
        return dir;
    }
}
