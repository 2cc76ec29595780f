package dev.hrda.cli;

import dev.hrda.active.Budget;
import dev.hrda.backend.Backend;
import dev.hrda.backend.Backends;
import dev.hrda.config.ActiveSpec;
import dev.hrda.config.DatasetSpec;
import dev.hrda.config.TrainConfig;
import dev.hrda.config.UdaSpec;
import dev.hrda.data.ClassBalancedSampler;
import dev.hrda.data.Converter;
import dev.hrda.data.DataException;
import dev.hrda.data.Dataset;
import dev.hrda.data.Pipeline;
import dev.hrda.data.RareClassSampler;
import dev.hrda.data.SyntheticData;
import dev.hrda.data.UdaData;
import dev.hrda.eval.SegMetrics;
import dev.hrda.ripu.RipuSettings;
import dev.hrda.tensor.DType;
import dev.hrda.train.Trainer;
import dev.hrda.uda.DacsSettings;
import dev.hrda.uda.LabelDownscale;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.HelpFormatter;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code hrda train CONFIG [--work-dir DIR] [--resume] [--device cpu|cuda|auto] [--seed N]
 * [--load-from FILE] [--cfg-options k=v ...]}: the original {@code tools/train.py} /
 * {@code run_experiments.py --config}: DACS self-training (HRDA, DAFormer, MIC), or source-only
 * training, as the config says; writes into work_dirs/&lt;config name&gt;/.
 */
final class TrainCommand implements Command {
    @Override public String name() { return "train"; }

    @Override public String summary() { return "train as a config says (DACS, HRDA, MIC, source-only): logs, checkpoints, evaluation"; }

    @Override
    public int run(String[] args) throws Exception {
        Options opts = new Options()
                .addOption(Option.builder().longOpt("work-dir").hasArg().argName("DIR").desc("default work_dirs/<config name>").build())
                .addOption(Option.builder().longOpt("resume").desc("continue from the work dir's latest checkpoint").build())
                .addOption(Option.builder().longOpt("device").hasArg().argName("cpu|cuda|auto").desc("backend (default: runtime.device, auto)").build())
                .addOption(Option.builder().longOpt("seed").hasArg().argName("N").desc("random seed (default: the config's)").build())
                .addOption(Option.builder().longOpt("load-from").hasArg().argName("FILE").desc("initial weights of the model (strict)").build())
                .addOption(Option.builder().longOpt("cfg-options").hasArgs().argName("KEY=VALUE").desc("override config keys, as mmseg's").build())
                .addOption(Option.builder().longOpt("detect-anomaly").desc("check every op for NaN/Inf and name the first that makes one (slow)").build())
                .addOption(Option.builder().longOpt("max-iters").hasArg().argName("N").desc("stop this process after N iterations (the run can be resumed)").build())
                .addOption(Option.builder("q").longOpt("quiet").desc("no progress bar").build())
                .addOption(Option.builder("h").longOpt("help").desc("this help").build());
        CommandLine cl = new DefaultParser().parse(opts, args);
        if (cl.hasOption("help") || cl.getArgList().size() != 1) {
            new HelpFormatter().printHelp("hrda train CONFIG [options]", "\n", opts,
                                          "\nConfigs: configs/ (e.g. configs/hrda/gtaHR2csHR_hrda.yaml, configs/synth/synth_dacs_daformer_small.yaml)");
            return cl.hasOption("help") ? 0 : 2;
        }
        Path file = Path.of(cl.getArgList().get(0));
        List<String> overrides = cl.hasOption("cfg-options") ? Arrays.asList(cl.getOptionValues("cfg-options")) : List.of();
        TrainConfig cfg = TrainConfig.load(file, overrides);
        long seed = cl.hasOption("seed") ? Long.parseLong(cl.getOptionValue("seed")) : cfg.seed();
        Path workDir = Path.of(cl.getOptionValue("work-dir", "work_dirs/" + cfg.stem()));
        drawSyntheticData(cfg);
        Trainer.Plan plan = plan(cfg, seed, workDir);
        Path loadFrom = cl.hasOption("load-from") ? Path.of(cl.getOptionValue("load-from"))
                      : cfg.loadFrom() != null ? Path.of(cfg.loadFrom()) : null;
        if (loadFrom != null && !Files.isRegularFile(loadFrom)) throw new DataException(loadFrom, "--load-from: no such checkpoint");
        boolean resume = cl.hasOption("resume");
        long stopAfter = cl.hasOption("max-iters") ? Long.parseLong(cl.getOptionValue("max-iters")) : -1;
        String device = cl.getOptionValue("device", cfg.runtime().device());
        try (Backend backend = Backends.create(device)) {
            System.out.printf("train %s: %s, %s, %d iterations, seed %d, %s; work dir %s%n", cfg.stem(), plan.model().name(),
                              describe(plan.dacs()), plan.maxIters(), seed, backend.describe(), workDir);
            if (plan.data().classBalanced() != null) System.out.println(plan.data().classBalanced());
            Trainer.Summary s = Trainer.run(backend, plan, new Trainer.Options(resume, loadFrom, cl.hasOption("detect-anomaly"),
                                                                               !cl.hasOption("quiet"), stopAfter), System.out);
            StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "done: %d iterations in %.0f s", s.iterations(), s.seconds()));
            for (Map.Entry<String, SegMetrics> e : s.metrics().entrySet()) {
                b.append(String.format(Locale.ROOT, "; %s mIoU %.2f", e.getKey(), e.getValue().mIoU()));
            }
            System.out.println(b.append("; log ").append(s.log()));
        }
        return 0;
    }

    static String describe(DacsSettings d) {
        if (d.sourceOnly()) return "source-only" + (d.mic() != null ? " + MIC" : "");
        return "DACS" + (d.fdLambda() > 0 ? " + FD" : "") + (d.mic() != null ? " + MIC" : "");
    }

    /** synth configs: draw the built-in benchmark where its data roots do not exist yet. */
    static void drawSyntheticData(TrainConfig cfg) {
        if (cfg.synth() == null) return;
        Path root = cfg.synth().root();
        if (Files.exists(root.resolve("synth.json"))) return;
        System.out.println("drawing the synthetic benchmark into " + root + " (hrda synth)");
        SyntheticData.write(root, cfg.synth().seed(), cfg.synth().width(), cfg.synth().height(), cfg.synth().count(),
                            Math.max(1, Runtime.getRuntime().availableProcessors()), true, true);
    }

    /** The config's records turned into the trainer's plan: data sets opened, statistics computed where missing. */
    static Trainer.Plan plan(TrainConfig cfg, long seed, Path workDir) {
        var d = cfg.data();
        DacsSettings dacs = settings(cfg.uda(), d.target() == null);
        int nproc = Math.max(1, Runtime.getRuntime().availableProcessors());
        RareClassSampler rcs = null;
        if (d.rareClassSampling() != null) {
            var r = d.rareClassSampling();
            rcs = new RareClassSampler(Converter.ensureStats(d.source().kind(), d.source().dataRoot(), nproc), r.classTemp(), r.minPixels(),
                                       r.minCropRatio());
        }
        UdaData data;
        DatasetSpec src = d.source();
        if (d.target() == null) {
            data = UdaData.sourceOnly(Dataset.open(src.kind(), src.dataRoot(), src.split(), true), new Pipeline(src.pipeline()), rcs);
        } else {
            DatasetSpec tgt = d.target();
            data = UdaData.open(src.kind(), src.dataRoot(), src.pipeline(), tgt.kind(), tgt.dataRoot(), tgt.split(), tgt.pipeline(), rcs);
        }
        // RIPU: the run's source files, max_iters x samples_per_gpu of them, fixed by the seed (source-free runs do not learn from them)
        if (d.classBalancedSampling() != null && !(cfg.active() != null && cfg.active().sourceFree())) {
            data = data.withClassBalanced(ClassBalancedSampler.of(Converter.ensureStats(src.kind(), src.dataRoot(), nproc), data.source(),
                                                                  (long) cfg.maxIters() * d.samplesPerGpu(), d.classBalancedSampling().subEpoch(),
                                                                  seed));
        }
        List<Trainer.ValSet> val = new ArrayList<>();
        for (DatasetSpec v : d.val()) {
            val.add(new Trainer.ValSet(v.name(), Dataset.open(v.kind(), v.dataRoot(), v.split(), true), v.pipeline().scaleW(), v.pipeline().scaleH(),
                                       v.pipeline().flipProb() > 0, v.pipeline().interpolation()));
        }
        var o = cfg.optimizer();
        if (o.type().equals("SGD") && cfg.active() == null) {
            throw new IllegalArgumentException(cfg.where("optimizer.type") + ": SGD trains RIPU's recipe (an active section); DACS, HRDA and MIC step AdamW");
        }
        DType dtype = switch (cfg.runtime().dtype()) {
            case "float32" -> DType.F32;
            case "float64" -> DType.F64;
            default -> throw new IllegalArgumentException(cfg.where("runtime.dtype") + ": runtime.dtype '" + cfg.runtime().dtype()
                                                          + "' (float32 or float64)");
        };
        int debug = cfg.uda() == null ? 0 : cfg.uda().debugImgInterval();
        return new Trainer.Plan(cfg.stem(), workDir, seed, cfg.model().config(), dtype, cfg.runtime().withCp(),
                                cfg.model().pretrained() == null ? null : Path.of(cfg.model().pretrained()), dacs, o.lr(), (float) o.beta1(),
                                (float) o.beta2(), o.weightDecay(), (float) o.eps(), o.customKeys(), cfg.lr().schedule(cfg.maxIters()),
                                cfg.maxIters(), data, d.samplesPerGpu(), d.workersPerGpu(), val, cfg.logInterval(), cfg.evaluation().interval(),
                                cfg.checkpoint().interval(), cfg.checkpoint().maxKeepCkpts(), debug, cfg.text(), ripu(cfg),
                                o.type().equals("SGD") ? o.momentum() : Double.NaN);
    }

    /** The active section as RIPU's settings (null without one); the selection runs at select_scale, else at the first val set's test scale. */
    static RipuSettings ripu(TrainConfig cfg) {
        ActiveSpec a = cfg.active();
        if (a == null) return null;
        int[] scale = a.selectScale();
        var firstVal = cfg.data().val().isEmpty() ? null : cfg.data().val().get(0).pipeline();
        if (scale == null) {
            if (firstVal == null) throw new IllegalArgumentException(cfg.where("active.setting") + ": active needs select_scale (or a data.val test scale)");
            scale = new int[] {firstVal.scaleW(), firstVal.scaleH()};
        }
        Budget budget = a.regions() ? Budget.ratio(a.ratio()) : Budget.pixels(a.pixels());
        // RIPU's selection pass resizes as its test transform does: the first val set's interpolation (null: bilinear)
        return new RipuSettings(budget, a.selectIters(), a.radiusK(), a.consistentLoss(), a.negativeLoss(), a.negativeThreshold(), scale[0], scale[1],
                                a.sourceFree(), firstVal == null ? null : firstVal.interpolation());
    }

    /** The uda section as the iteration's settings; source-only without one (no FD, no MIC). */
    static DacsSettings settings(UdaSpec u, boolean noTarget) {
        if (u == null) {
            return new DacsSettings(true, 0.999, 0.968, 0, 0, 0, null, LabelDownscale.DACS_MIN_RATIO, false, 0.2, 0.2, null);
        }
        DacsSettings.Mic mic = u.mask() == null ? null : new DacsSettings.Mic(u.mask().mode(), u.mask().lambda(), u.mask().maskRatio(),
                                                                              u.mask().blockSize());
        double fdMin = Double.isNaN(u.imnetFeatureDistScaleMinRatio()) ? LabelDownscale.DACS_MIN_RATIO : u.imnetFeatureDistScaleMinRatio();
        DacsSettings s = new DacsSettings(u.sourceOnly() || noTarget, u.alpha(), u.pseudoThreshold(), u.pseudoWeightIgnoreTop(),
                                          u.pseudoWeightIgnoreBottom(), u.featureDistance() ? u.imnetFeatureDistLambda() : 0,
                                          u.imnetFeatureDistClasses(), fdMin, u.blur(), u.colorJitterStrength(), u.colorJitterProbability(), mic);
        return s;
    }
}
