package dev.hrda.train;

import dev.hrda.autograd.Anomaly;
import dev.hrda.backend.Backend;
import dev.hrda.data.BufferPool;
import dev.hrda.data.Dataset;
import dev.hrda.data.LabelMaps;
import dev.hrda.data.PipelineConfig;
import dev.hrda.data.Loader;
import dev.hrda.data.UdaBatch;
import dev.hrda.data.UdaData;
import dev.hrda.eval.Evaluator;
import dev.hrda.eval.Predictor;
import dev.hrda.eval.SegMetrics;
import dev.hrda.io.CheckpointException;
import dev.hrda.io.Checkpoints;
import dev.hrda.io.LoadOptions;
import dev.hrda.io.LoadReport;
import dev.hrda.io.TrainingCheckpoint;
import dev.hrda.model.Backbone;
import dev.hrda.model.EncoderDecoder;
import dev.hrda.model.ModelConfig;
import dev.hrda.model.Segmentor;
import dev.hrda.optim.AdamW;
import dev.hrda.optim.PolySchedule;
import dev.hrda.optim.Sgd;
import dev.hrda.ripu.ActiveLabels;
import dev.hrda.ripu.RipuSettings;
import dev.hrda.ripu.RipuStep;
import dev.hrda.ripu.SelectionRound;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.MemoryStats;
import dev.hrda.uda.Dacs;
import dev.hrda.uda.DacsSettings;
import dev.hrda.uda.NonFiniteLossException;
import dev.hrda.uda.SeedPlan;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * {@code hrda train}: mmseg's IterBasedRunner around the DACS iteration. Builds the student, the
 * EMA teacher and the ImageNet encoder, loads the pretrained encoder weights, runs the
 * iterations with a background data loader, and writes into the work dir what mmseg writes
 * there: the text log and the .log.json, checkpoints iter_N.pth and latest.pth, evaluations
 * every interval, debug images, plus PNG plots of the losses and the mIoU. A run killed at any
 * moment resumes from its last checkpoint ({@link Options#resume}) and, on the CPU, continues
 * bit for bit as if it had not stopped.
 */
public final class Trainer {
    /**
     * A validation set: evaluated every evaluation interval, at its test scale (with flip averaging
     * when {@code flip}), the image resized with {@code interpolation} (null: bilinear).
     */
    public record ValSet(String name, Dataset dataset, int scaleW, int scaleH, boolean flip, PipelineConfig.Interpolation interpolation) {
        public ValSet {
            if (interpolation == null) interpolation = PipelineConfig.Interpolation.BILINEAR;
        }

        public ValSet(String name, Dataset dataset, int scaleW, int scaleH, boolean flip) {
            this(name, dataset, scaleW, scaleH, flip, PipelineConfig.Interpolation.BILINEAR);
        }

        public ValSet(String name, Dataset dataset, int scaleW, int scaleH) {
            this(name, dataset, scaleW, scaleH, false);
        }
    }

    /**
     * Everything a run needs, resolved (the config's records turned into the engine's objects).
     *
     * @param pretrained   SegFormer ImageNet weights for the encoder (mit_bX.pth), or null
     * @param data         source and target data (the target null for source-only training)
     * @param configText   the merged config, dumped into the work dir and the checkpoints
     * @param ripu         RIPU's active domain adaptation (then dacs is source-only: no teacher), or null
     * @param sgdMomentum  SGD with this momentum (RIPU's DeepLab recipe: torch.optim.SGD, lr, weightDecay and
     *                     rules as given, no dampening or Nesterov) instead of AdamW; NaN: AdamW
     */
    public record Plan(String name, Path workDir, long seed, ModelConfig model, DType dtype, boolean withCp, Path pretrained,
                       DacsSettings dacs, double lr, float beta1, float beta2, double weightDecay, float eps, List<AdamW.Rule> rules,
                       PolySchedule schedule, int maxIters, UdaData data, int batchSize, int workers, List<ValSet> val,
                       int logInterval, int evalInterval, int checkpointInterval, int maxKeepCheckpoints, int debugInterval,
                       String configText, RipuSettings ripu, double sgdMomentum) {
        public Plan {
            if (ripu != null && (model.isHrda() || data.target() == null || !dacs.sourceOnly())) {
                throw new IllegalArgumentException("RIPU trains an EncoderDecoder on source and target without a teacher");
            }
            if (!Double.isNaN(sgdMomentum) && ripu == null) throw new IllegalArgumentException("SGD trains RIPU's recipe only (DACS steps AdamW)");
        }

        /** AdamW's settings, no SGD, no RIPU (the DACS, HRDA and MIC runs). */
        public Plan(String name, Path workDir, long seed, ModelConfig model, DType dtype, boolean withCp, Path pretrained,
                    DacsSettings dacs, double lr, float beta1, float beta2, double weightDecay, float eps, List<AdamW.Rule> rules,
                    PolySchedule schedule, int maxIters, UdaData data, int batchSize, int workers, List<ValSet> val,
                    int logInterval, int evalInterval, int checkpointInterval, int maxKeepCheckpoints, int debugInterval, String configText) {
            this(name, workDir, seed, model, dtype, withCp, pretrained, dacs, lr, beta1, beta2, weightDecay, eps, rules, schedule, maxIters, data,
                 batchSize, workers, val, logInterval, evalInterval, checkpointInterval, maxKeepCheckpoints, debugInterval, configText, null, Double.NaN);
        }

        public boolean sgd() {
            return !Double.isNaN(sgdMomentum);
        }
    }

    /**
     * @param resume        continue from the work dir's latest checkpoint (from iteration 0 when it has none)
     * @param loadFrom      initial weights of the student (mmseg's load_from), or null
     * @param detectAnomaly check every op's output for NaN/Inf and name the first op that produced one
     * @param progress      a progress bar on stderr
     * @param stopAfter     stop after this many iterations of this process (tests; -1 = none)
     */
    public record Options(boolean resume, Path loadFrom, boolean detectAnomaly, boolean progress, long stopAfter) {
        public static Options defaults() {
            return new Options(false, null, false, true, -1);
        }
    }

    /** What a run ended with. */
    public record Summary(long iterations, Map<String, SegMetrics> metrics, Path workDir, Path log, double seconds) {}

    private static final Pattern ITER_FILE = Pattern.compile("iter_(\\d+)\\.pth");
    private final Backend backend;
    private final Plan p;
    private final Options o;
    private final PrintStream out;

    private Trainer(Backend backend, Plan plan, Options options, PrintStream out) {
        this.backend = backend;
        this.p = plan;
        this.o = options;
        this.out = out;
    }

    public static Summary run(Backend backend, Plan plan, Options options, PrintStream out) {
        return new Trainer(backend, plan, options, out).run();
    }

    private Summary run() {
        long started = System.nanoTime();
        createDirectories(p.workDir());
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("env_info", "hrda-java " + dev.hrda.Version.VERSION + ", " + backend.device() + ", " + p.dtype());
        header.put("config", p.configText() == null ? "" : p.configText());
        header.put("seed", p.seed());
        header.put("exp_name", p.name());
        try (TrainLog log = new TrainLog(p.workDir(), header);
             Models m = new Models();
             Optim opt = p.sgd() ? new SgdOptim(new Sgd(backend, m.student.namedParameters(), p.lr(), p.sgdMomentum(), 0, p.weightDecay(), false, p.rules()))
                                 : new AdamWOptim(new AdamW(backend, m.student.namedParameters(), p.lr(), p.weightDecay(), p.beta1(), p.beta2(), p.eps(),
                                                            p.rules()))) {
            if (p.configText() != null) writeString(p.workDir().resolve(p.name() + ".yaml"), p.configText());
            long start = initialise(m, opt, log);
            Dacs dacs = opt.adamW() == null ? null : new Dacs(m.student, m.teacher, m.imnet, opt.adamW(), p.schedule(), p.dacs());
            Ripu ripu = p.ripu() == null ? null : new Ripu(m, opt, start, log);
            SeedPlan plan = new SeedPlan(p.seed());
            Map<String, SegMetrics> lastMetrics = new LinkedHashMap<>();
            Anomaly.enable(o.detectAnomaly());
            Loader<UdaBatch> loader = loader(start);
            try {
                LogBuffer buffer = new LogBuffer();
                TrainProgress bar = new TrainProgress(o.progress() ? System.err : null, start, p.maxIters());
                long done = 0;
                for (long iter = start; iter < p.maxIters(); iter++) {
                    long t0 = System.nanoTime();
                    Dacs.Result r;
                    try (UdaBatch batch = loader.next()) {
                        double dataTime = (System.nanoTime() - t0) / 1e9;
                        DebugImages debug = ripu == null && p.debugInterval() > 0 && iter % p.debugInterval() == 0 ? new DebugImages(backend, p.batchSize()) : null;
                        try {
                            r = ripu != null ? ripu.step.step(iter, batch, plan.at(iter).dropoutSeed())
                              : debug == null ? dacs.step(iter, batch, plan.at(iter)) : dacs.step(iter, batch, plan.at(iter), debug);
                        } catch (NonFiniteLossException e) {
                            log.info("stopped: " + e.getMessage());
                            throw e;
                        }
                        if (debug != null) {
                            Path dir = createDirectories(p.workDir().resolve("debug"));
                            debug.write(dir, iter + 1);
                        }
                        buffer.add(r, dataTime, (System.nanoTime() - t0) / 1e9);
                    }
                    long n = iter + 1;
                    bar.update(n, r.log());
                    if (n % p.logInterval() == 0 || n == p.maxIters()) {
                        Map<String, Object> rec = TrainLog.record("train", n, r.lr());
                        rec.put("memory", MemoryStats.peakBytes(backend.device()) >> 20);
                        MemoryStats.resetPeak(backend.device());
                        buffer.flushInto(rec);
                        log.record(rec, p.maxIters(), bar.etaSeconds(n));
                    }
                    boolean stopping = o.stopAfter() >= 0 && done + 1 >= o.stopAfter();
                    // RIPU: an acquisition round after this iteration; its labels reach the batches of a new loader
                    boolean selected = ripu != null && ripu.afterIteration(n, bar);
                    if (selected) {
                        loader.close();
                        loader = loader(n);
                    }
                    // a process told to stop early saves too, so that --resume continues where it stopped;
                    // a checkpoint follows every round, so a resumed run finds the labels of the rounds before it
                    if (n % p.checkpointInterval() == 0 || n == p.maxIters() || stopping || selected) {
                        saveCheckpoint(m, opt, n, log, p.schedule().factor(Math.min(n, p.maxIters() - 1)));
                    }
                    if (!p.val().isEmpty() && ((p.evalInterval() > 0 && n % p.evalInterval() == 0) || n == p.maxIters())) {
                        bar.pause();
                        lastMetrics = evaluate(m.student, n, r.lr(), log);
                        writePlots(log);
                    }
                    done++;
                    if (o.stopAfter() >= 0 && done >= o.stopAfter()) break;
                }
                bar.finish();
            } finally {
                loader.close();
                Anomaly.enable(false);
            }
            writePlots(log);
            long iterations = Math.min(p.maxIters(), start + (o.stopAfter() >= 0 ? o.stopAfter() : p.maxIters()));
            return new Summary(iterations, lastMetrics, p.workDir(), log.text, (System.nanoTime() - started) / 1e9);
        }
    }

    /**
     * RIPU's part of a run: its step, the acquired labels (read back from the work dir on
     * resume, checked against the rounds the checkpoint implies) fed to the target pipeline, and
     * the rounds. The round of iteration 0 (the source-free variant) runs before the first step.
     */
    private final class Ripu {
        final RipuStep step;
        final ActiveLabels labels;
        final TrainLog log;
        final EncoderDecoder student;

        Ripu(Models m, Optim opt, long start, TrainLog log) {
            if (!(m.student instanceof EncoderDecoder ed)) throw new IllegalArgumentException("RIPU trains an EncoderDecoder");
            this.student = ed;
            this.log = log;
            RipuSettings s = p.ripu();
            step = new RipuStep(ed, opt, p.schedule(), s);
            labels = ActiveLabels.open(p.workDir(), p.data().target());
            int want = s.roundsDoneBy(start), have = labels.roundsDone();
            if (have != want) {
                throw new IllegalStateException(p.workDir().resolve(ActiveLabels.DIR) + " holds the labels of " + have + " acquisition round(s), but "
                                                + (start == 0 ? "this run starts afresh" : "the checkpoint at iteration " + start + " follows " + want)
                                                + (have > want ? " (resume from the checkpoint written after the last round, or use a new work dir)"
                                                               : " (the labels of a round are missing: the work dir is damaged)"));
            }
            p.data().targetLabels(labels::edit);
            say(log, "RIPU: " + s + "; " + have + " of " + s.rounds() + " rounds done, " + labels.selectedPixels() + " target pixels labelled");
            if (start == 0 && s.roundAfter(0) >= 0) round(0, null);
        }

        /** Runs the round after iteration count n, if any; true when the target labels changed. */
        boolean afterIteration(long n, TrainProgress bar) {
            if (p.ripu().roundAfter(n) < 0) return false;
            bar.pause();
            round(n, bar);
            return true;
        }

        private void round(long n, TrainProgress bar) {
            RipuSettings s = p.ripu();
            int r = s.roundAfter(n);
            SelectionRound.Stats st = SelectionRound.run(student, labels, s, r, n);
            labels.recordRound(r + 1, n);
            long pixels = labels.targetPixels();
            Map<String, Long> h = new LinkedHashMap<>();  // the classes of the new labels, in train-id order
            for (int c = 0; c < st.classes().length; c++) if (st.classes()[c] > 0) h.put(c == 255 ? "ignore" : LabelMaps.CLASSES.get(c), st.classes()[c]);
            StringBuilder hist = new StringBuilder();
            h.forEach((k, v) -> hist.append(hist.length() == 0 ? "" : ", ").append(k).append(' ').append(v));
            say(log, String.format(Locale.ROOT, "RIPU round %d/%d after iteration %d: %d pixels selected (%.3f%% of the target, %d in all), "
                                                + "%d images in %.1f s; classes of the new labels: %s", r + 1, s.rounds(), n, st.added(),
                                   100.0 * st.total() / pixels, st.total(), st.images(), st.seconds(), hist));
            Map<String, Object> rec = TrainLog.record("active", n, 0);
            rec.put("round", r + 1);
            rec.put("selected", st.added());
            rec.put("labelled", st.total());
            rec.put("labelled_fraction", (double) st.total() / pixels);
            rec.put("time", st.seconds());
            rec.put("classes", h);
            log.record(rec, p.maxIters(), 0);
        }
    }

    /** The run's optimizer: AdamW (DACS, HRDA, MIC; RIPU on the synthetic benchmark) or SGD (RIPU's DeepLab recipe). */
    private interface Optim extends RipuStep.Optimizer, AutoCloseable {
        /** The AdamW DACS steps, or null for SGD. */
        AdamW adamW();

        void save(Path file, Models m, double lrFactor, TrainingCheckpoint.Meta meta);

        TrainingCheckpoint.Loaded load(Path file, Models m);

        @Override
        void close();
    }

    private record AdamWOptim(AdamW o) implements Optim {
        public AdamW adamW() { return o; }
        public void zeroGrad() { o.zeroGrad(); }
        public void step(double f) { o.step(f); }
        public double baseLr() { return o.baseLr; }
        public void save(Path file, Models m, double f, TrainingCheckpoint.Meta meta) { TrainingCheckpoint.save(file, m.student, m.teacher, m.imnet, o, f, meta); }
        public TrainingCheckpoint.Loaded load(Path file, Models m) { return TrainingCheckpoint.load(file, m.student, m.teacher, m.imnet, o); }
        public void close() { o.close(); }
    }

    private record SgdOptim(Sgd o) implements Optim {
        public AdamW adamW() { return null; }
        public void zeroGrad() { o.zeroGrad(); }
        public void step(double f) { o.step(f); }
        public double baseLr() { return o.baseLr; }
        public void save(Path file, Models m, double f, TrainingCheckpoint.Meta meta) { TrainingCheckpoint.save(file, m.student, m.teacher, m.imnet, o, f, meta); }
        public TrainingCheckpoint.Loaded load(Path file, Models m) { return TrainingCheckpoint.load(file, m.student, m.teacher, m.imnet, o); }
        public void close() { o.close(); }
    }

    /** The three models of a DACS run, closed together. */
    private final class Models implements AutoCloseable {
        final Segmentor student, teacher;
        final Backbone imnet;

        Models() {
            Segmentor s = Segmentor.create(backend, p.dtype(), p.model(), p.seed());
            Segmentor t = null;
            Backbone i = null;
            try {
                s.useCheckpoint(p.withCp());
                if (!p.dacs().sourceOnly()) t = Segmentor.create(backend, p.dtype(), p.model(), p.seed() + 1);
                if (p.dacs().fdLambda() > 0) i = Backbone.create(backend, p.dtype(), p.model().backbone(), new java.util.Random(p.seed() + 2));
            } catch (RuntimeException e) {
                if (t != null) t.close();
                s.close();
                throw e;
            }
            student = s;
            teacher = t;
            imnet = i;
        }

        @Override
        public void close() {
            if (imnet != null) imnet.close();
            if (teacher != null) teacher.close();
            student.close();
        }
    }

    /** Pretrained / load_from / resume; returns the first iteration to run. */
    private long initialise(Models m, Optim opt, TrainLog log) {
        if (p.pretrained() != null) {
            if (Files.isRegularFile(p.pretrained())) {
                LoadReport r = Checkpoints.load(m.student.backbone, p.pretrained(), LoadOptions.nonStrict());
                say(log, "encoder initialised from " + p.pretrained() + ": " + r.loaded().size() + " tensors loaded, "
                         + r.missing().size() + " missing, " + r.unexpected().size() + " unexpected (non-strict, as mmseg)");
            } else {
                say(log, "pretrained weights " + p.pretrained() + " not found: the encoder starts from random initialisation "
                         + "(the originals use SegFormer's ImageNet weights; download mit_bX.pth into pretrained/)");
            }
        }
        // the ImageNet model is the encoder as initialised (its ImageNet weights when given)
        if (m.imnet != null) copyParameters(m.student.backbone, m.imnet);
        if (o.loadFrom() != null) {
            // strict: a checkpoint of another model is refused, naming the tensors that differ
            LoadReport r = Checkpoints.load(m.student, o.loadFrom(), LoadOptions.strict());
            say(log, "load_from " + o.loadFrom() + ": " + r.loaded().size() + " tensors loaded");
        }
        if (o.resume()) {
            Path last = latestCheckpoint(p.workDir());
            if (last == null) {
                say(log, "--resume: no checkpoint in " + p.workDir() + ", starting at iteration 0");
                return 0;
            }
            TrainingCheckpoint.Loaded l = opt.load(last, m);
            if (l.seed() != p.seed()) {
                throw new CheckpointException(last, "was written by a run with seed " + l.seed() + ", this run has seed " + p.seed()
                                                    + " (pass --seed " + l.seed() + " to resume it)");
            }
            say(log, "resumed from " + last + " at iteration " + l.iteration());
            return l.iteration();
        }
        return 0;
    }

    private static void copyParameters(Backbone from, Backbone to) {
        var dst = to.namedParameters();
        from.namedParameters().forEach((k, v) -> from.parameters().get(0).backend().copy(v, dst.get(k)));
    }

    private Loader<UdaBatch> loader(long start) {
        BufferPool pool = new BufferPool(false);
        UdaData d = p.data();
        Loader.Producer<UdaBatch> produce = d.target() == null
            ? i -> new UdaBatch(d.sourceBatch(p.seed(), start + i, p.batchSize(), pool), null)
            : i -> d.batch(p.seed(), start + i, p.batchSize(), pool);
        return new Loader<>(produce, -1, Math.max(1, p.workers()), 2, "hrda-train").onClose(pool::close);
    }

    // ---------------------------------------------------------------- checkpoints

    private void saveCheckpoint(Models m, Optim opt, long iteration, TrainLog log, double lrFactor) {
        Path file = p.workDir().resolve("iter_" + iteration + ".pth");
        try {
            opt.save(file, m, lrFactor,
                                    new TrainingCheckpoint.Meta(iteration, p.seed(), p.configText(), p.name() + ".yaml", p.model().name()));
        } catch (RuntimeException e) {
            Path last = latestCheckpoint(p.workDir());
            String msg = "could not be written (" + e.getMessage() + "); nothing half-written is left, and "
                         + (last == null ? "there is no earlier checkpoint" : "the last complete checkpoint is " + realName(last))
                         + ": free space, then resume with --resume";
            log.info("stopped: checkpoint " + file + " " + msg);
            throw new CheckpointException(file, msg, e);
        }
        pointLatest(file);
        log.info("Saving checkpoint at " + iteration + " iterations: " + file);
        if (p.maxKeepCheckpoints() > 0) {
            List<Long> iters = checkpointIterations(p.workDir());
            for (int i = 0; i < iters.size() - p.maxKeepCheckpoints(); i++) {
                try {
                    Files.deleteIfExists(p.workDir().resolve("iter_" + iters.get(i) + ".pth"));
                } catch (IOException e) {
                    log.info("could not delete an old checkpoint: " + e.getMessage());
                }
            }
        }
    }

    /** latest.pth -> iter_N.pth, replaced atomically (a new link renamed over the old one). */
    private static void pointLatest(Path file) {
        Path latest = file.resolveSibling("latest.pth"), tmp = file.resolveSibling(".latest.pth.tmp" + ProcessHandle.current().pid());
        try {
            Files.deleteIfExists(tmp);
            Files.createSymbolicLink(tmp, file.getFileName());
            Files.move(tmp, latest, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | UnsupportedOperationException e) {
            try {  // no symbolic links here: a copy, also renamed into place
                Files.deleteIfExists(tmp);
                Files.copy(file, tmp);
                Files.move(tmp, latest, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e2) {
                throw new UncheckedIOException("cannot point latest.pth at " + file + ": " + e2.getMessage(), e2);
            }
        }
    }

    private static String realName(Path p) {
        try {
            return p.toRealPath().toString();
        } catch (IOException e) {
            return p.toString();
        }
    }

    /** The iterations of the complete checkpoints in a work dir, ascending (temporary files are not checkpoints). */
    static List<Long> checkpointIterations(Path dir) {
        List<Long> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) return out;
        try (Stream<Path> s = Files.list(dir)) {
            s.forEach(f -> {
                Matcher mt = ITER_FILE.matcher(f.getFileName().toString());
                if (mt.matches()) out.add(Long.parseLong(mt.group(1)));
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        out.sort(null);
        return out;
    }

    /** The checkpoint to resume from: latest.pth where it resolves, else the highest iter_N.pth; null when none. */
    public static Path latestCheckpoint(Path dir) {
        Path latest = dir.resolve("latest.pth");
        if (Files.isRegularFile(latest)) return latest;
        List<Long> iters = checkpointIterations(dir);
        return iters.isEmpty() ? null : dir.resolve("iter_" + iters.get(iters.size() - 1) + ".pth");
    }

    // ---------------------------------------------------------------- evaluation

    private Map<String, SegMetrics> evaluate(Segmentor student, long iteration, double lr, TrainLog log) {
        Map<String, SegMetrics> out = new LinkedHashMap<>();
        Map<String, Object> rec = TrainLog.record("val", iteration, lr);
        boolean prefix = p.val().size() > 1;
        try {
            for (ValSet v : p.val()) {
                Evaluator ev = new Evaluator(new Predictor(student, v.scaleW(), v.scaleH(), v.flip(), v.interpolation()), LabelMaps.CLASSES.subList(0, p.model().numClasses()));
                for (Dataset.Item item : v.dataset().items()) ev.add(item);
                SegMetrics sm = ev.metrics();
                out.put(v.name(), sm);
                String k = prefix ? v.name() + "." : "";
                rec.put(k + "aAcc", sm.aAcc() / 100);
                rec.put(k + "mIoU", sm.mIoU() / 100);
                rec.put(k + "mAcc", sm.mAcc() / 100);
                for (int c = 0; c < sm.classNames().size(); c++) {
                    rec.put(k + "IoU." + sm.classNames().get(c), sm.iou()[c] / 100);
                    rec.put(k + "Acc." + sm.classNames().get(c), sm.acc()[c] / 100);
                }
                log.info("evaluation on " + v.name() + " (" + ev.images() + " images) at iteration " + iteration + ":\n" + sm.table());
                say(null, String.format(Locale.ROOT, "iter %d: %s mIoU %.2f", iteration, v.name(), sm.mIoU()));
            }
        } finally {
            student.train(true);  // the Predictor put it in evaluation mode
        }
        log.record(rec, p.maxIters(), 0);
        return out;
    }

    private void writePlots(TrainLog log) {
        Plots.write(p.workDir().resolve("losses.png"), p.name() + ": losses", "loss", Plots.lossSeries(log.records()).values());
        Plots.write(p.workDir().resolve("miou.png"), p.name() + ": validation mIoU", "mIoU (%)", Plots.miouSeries(log.records()).values());
    }

    private void say(TrainLog log, String message) {
        if (log != null) log.info(message);
        if (out != null) out.println(message);
    }

    private static Path createDirectories(Path dir) {
        try {
            return Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir + ": " + e.getMessage(), e);
        }
    }

    private static void writeString(Path file, String text) {
        dev.hrda.data.AtomicFiles.writeString(file, text);
    }

    /** mmcv's LogBuffer: the average of every logged value over the interval since the last record. */
    private static final class LogBuffer {
        private final Map<String, double[]> sums = new LinkedHashMap<>();

        void add(Dacs.Result r, double dataTime, double time) {
            put("data_time", dataTime);
            r.log().forEach(this::put);
            put("time", time);
            put("teacher_time", r.timing().teacher());
            put("forward_time", r.timing().forward());
            put("backward_time", r.timing().backward());
            put("optimizer_time", r.timing().optimizer());
        }

        private void put(String k, double v) {
            double[] s = sums.computeIfAbsent(k, x -> new double[2]);
            s[0] += v;
            s[1]++;
        }

        void flushInto(Map<String, Object> rec) {
            sums.forEach((k, s) -> rec.put(k, s[0] / s[1]));
            sums.clear();
        }
    }
}
