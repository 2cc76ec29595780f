package dev.hrda.io;

import dev.hrda.data.LabelMaps;
import dev.hrda.nn.Module;
import dev.hrda.optim.AdamW;
import dev.hrda.optim.Sgd;
import dev.hrda.tensor.Tensor;

import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A DACS training checkpoint as mmcv's runner writes one ({@code iter_N.pth}), read by the
 * original tools (mmseg's test.py loads {@code state_dict} with the {@code model.} prefix revised
 * away) and by {@code hrda test}, {@code hrda train --resume}:
 * <pre>
 * {'meta': {'mmcv_version', 'time', 'config', 'seed', 'exp_name', 'CLASSES', 'PALETTE', 'epoch', 'iter', 'hrda_java': {...}},
 *  'state_dict': OrderedDict(model.*, ema_model.*, imnet_model.backbone.*),
 *  'optimizer': {'state': {i: {'step', 'exp_avg', 'exp_avg_sq'}}, 'param_groups': [one per parameter, as mmcv's paramwise groups]}}
 * </pre>
 * The random state of a run is its seed and the iteration ({@link dev.hrda.uda.SeedPlan}): both
 * are in {@code meta}. The file is written atomically (temporary file, fsync, rename).
 */
public final class TrainingCheckpoint {
    /** Sub-model prefixes of DACS's state dict. */
    public static final String MODEL = "model", EMA = "ema_model", IMNET = "imnet_model";

    private TrainingCheckpoint() {}

    /** What a run stores besides the tensors. */
    public record Meta(long iteration, long seed, String config, String expName, String modelName) {}

    /**
     * @param teacher the EMA model, or null (source-only)
     * @param imnet   the ImageNet encoder (its names get "backbone."), or null
     */
    public static void save(Path file, Module student, Module teacher, Module imnet, AdamW opt, double lrFactor, Meta meta) {
        write(file, student, teacher, imnet, opt == null ? null : optimizerState(opt, lrFactor), meta);
    }

    // RIPU
    /**
     * The same file with torch.optim.SGD's state_dict as {@code optimizer}: {@code state} {i:
     * {'momentum_buffer'}} (empty before the first step or without momentum, as torch) and one
     * {@code param_groups} entry per lr/decay group (RIPU: the backbone and the x10 head).
     */
    public static void save(Path file, Module student, Module teacher, Module imnet, Sgd opt, double lrFactor, Meta meta) {
        write(file, student, teacher, imnet, opt == null ? null : sgdState(opt, lrFactor), meta);
    }

    private static void write(Path file, Module student, Module teacher, Module imnet, Map<String, Object> optimizer, Meta meta) {
        Map<String, StoredTensor> state = new LinkedHashMap<>();
        putState(state, MODEL + ".", student);
        if (teacher != null) putState(state, EMA + ".", teacher);
        if (imnet != null) putState(state, IMNET + ".backbone.", imnet);

        Map<String, Object> m = new LinkedHashMap<>();
        m.put("mmcv_version", "1.3.7");  // the format's version: what mmseg 0.16's tools expect to read
        m.put("time", ZonedDateTime.now().format(DateTimeFormatter.ofPattern("EEE MMM d HH:mm:ss yyyy", Locale.ROOT)));
        m.put("config", meta.config() == null ? "" : meta.config());
        m.put("seed", meta.seed());
        m.put("exp_name", meta.expName());
        m.put("CLASSES", new TorchWriter.Tuple(LabelMaps.CLASSES));
        List<Object> palette = new ArrayList<>();
        for (int[] rgb : LabelMaps.PALETTE) palette.add(List.of(rgb[0], rgb[1], rgb[2]));
        m.put("PALETTE", palette);
        m.put("epoch", 1);
        m.put("iter", meta.iteration());
        Map<String, Object> ours = new LinkedHashMap<>();
        ours.put("version", dev.hrda.Version.VERSION);
        ours.put("model", meta.modelName());
        m.put("hrda_java", ours);

        Map<String, Object> root = new LinkedHashMap<>();
        root.put("meta", m);
        root.put("state_dict", new TorchWriter.OrderedDict(state));
        if (optimizer != null) root.put("optimizer", optimizer);
        TorchWriter.writeTree(file, root);
    }

    private static void putState(Map<String, StoredTensor> out, String prefix, Module m) {
        m.namedParameters().forEach((k, v) -> out.put(prefix + k, StoredTensor.lazyCopyOf(v)));
        m.namedBuffers().forEach((k, v) -> {
            out.put(prefix + k, StoredTensor.lazyCopyOf(v));
            // PyTorch's BatchNorm keeps a batch counter too: written so torch's strict load accepts the file
            if (k.endsWith(".running_var")) {
                out.put(prefix + k.substring(0, k.length() - "running_var".length()) + "num_batches_tracked",
                        StoredTensor.ofLongs(new long[] {0}));
            }
        });
    }

    /** torch.optim.AdamW.state_dict() with mmcv's one group per parameter (paramwise custom_keys). */
    private static Map<String, Object> optimizerState(AdamW opt, double lrFactor) {
        Map<Integer, Object> state = new LinkedHashMap<>();
        List<Object> groups = new ArrayList<>();
        List<String> names = opt.names();
        for (int i = 0; i < names.size(); i++) {
            String n = names.get(i);
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("step", (double) opt.stepCount());
            s.put("exp_avg", StoredTensor.lazyCopyOf(opt.expAvg().get(i)));
            s.put("exp_avg_sq", StoredTensor.lazyCopyOf(opt.expAvgSq().get(i)));
            state.put(i, s);
            AdamW.Group g = opt.groupOf(n);
            Map<String, Object> group = new LinkedHashMap<>();
            group.put("lr", opt.baseLr * lrFactor * g.lrMult());
            group.put("betas", new TorchWriter.Tuple(List.of((double) opt.beta1, (double) opt.beta2)));
            group.put("eps", (double) opt.eps);
            group.put("weight_decay", opt.weightDecay * g.decayMult());
            group.put("amsgrad", false);
            group.put("maximize", false);
            group.put("foreach", null);
            group.put("capturable", false);
            group.put("initial_lr", opt.baseLr * g.lrMult());
            group.put("params", List.of(i));
            group.put("name", n);  // ours: which parameter the group holds (torch keeps extra group keys)
            groups.add(group);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("state", state);
        out.put("param_groups", groups);
        return out;
    }

    // RIPU
    /** torch.optim.SGD.state_dict(), the parameters grouped by their lr/decay multipliers in first-seen order. */
    private static Map<String, Object> sgdState(Sgd opt, double lrFactor) {
        Map<Integer, Object> state = new LinkedHashMap<>();
        Map<List<Float>, Map<String, Object>> groups = new LinkedHashMap<>();
        List<String> names = opt.names();
        for (int i = 0; i < names.size(); i++) {
            if (opt.stepCount() > 0 && !opt.momentumBuffers().isEmpty()) {
                state.put(i, Map.of("momentum_buffer", StoredTensor.lazyCopyOf(opt.momentumBuffers().get(i))));
            }
            AdamW.Group g = opt.groupOf(names.get(i));
            Map<String, Object> group = groups.computeIfAbsent(List.of(g.lrMult(), g.decayMult()), k -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("lr", opt.baseLr * lrFactor * g.lrMult());
                m.put("momentum", opt.momentum);
                m.put("dampening", opt.dampening);
                m.put("weight_decay", opt.weightDecay * g.decayMult());
                m.put("nesterov", opt.nesterov);
                m.put("maximize", false);
                m.put("foreach", null);
                m.put("differentiable", false);
                m.put("params", new ArrayList<Integer>());
                return m;
            });
            @SuppressWarnings("unchecked") List<Integer> params = (List<Integer>) group.get("params");
            params.add(i);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("state", state);
        out.put("param_groups", new ArrayList<>(groups.values()));
        return out;
    }

    /** What {@link #load} restored. */
    public record Loaded(long iteration, long seed, Map<String, String> metadata) {}

    /**
     * Restores every model (strictly: a checkpoint of another model is refused, naming the
     * tensors that differ) and the optimizer state, from a file written by {@link #save}.
     */
    public static Loaded load(Path file, Module student, Module teacher, Module imnet, AdamW opt) {
        TensorFile f = TensorFile.read(file);
        Loaded l = loadModels(file, f, student, teacher, imnet);
        if (opt != null) loadOptimizer(file, f, opt);
        return l;
    }

    // RIPU
    /**
     * {@link #load} with SGD's momentum buffers: every parameter's or none (a checkpoint written
     * before the first step; the next step then starts the buffers from the gradient again).
     */
    public static Loaded load(Path file, Module student, Module teacher, Module imnet, Sgd opt) {
        TensorFile f = TensorFile.read(file);
        Loaded l = loadModels(file, f, student, teacher, imnet);
        if (opt == null) return l;
        List<String> names = opt.names();
        Map<String, StoredTensor> other = f.otherTensors();
        int found = 0;
        for (int i = 0; i < names.size(); i++) {
            StoredTensor b = other.get("optimizer.state." + i + ".momentum_buffer");
            if (b == null) continue;
            if (opt.momentumBuffers().isEmpty()) throw new CheckpointException(file, "momentum buffers in the checkpoint, but the optimizer has no momentum");
            Tensor t = opt.momentumBuffers().get(i);
            if (!Arrays.equals(b.shape(), t.shape())) {
                throw new CheckpointException(file, "momentum buffer " + i + " has shape " + Arrays.toString(b.shape()) + ", parameter "
                                                    + names.get(i) + " " + t.shapeString() + ": a checkpoint of another model");
            }
            b.copyInto(t);
            found++;
        }
        if (found != 0 && found != names.size() && !opt.momentumBuffers().isEmpty()) {
            throw new CheckpointException(file, "momentum buffers for " + found + " of the " + names.size() + " parameters");
        }
        if (other.containsKey("optimizer.state." + names.size() + ".momentum_buffer")) {
            throw new CheckpointException(file, "optimizer state for more parameters than the model's " + names.size());
        }
        opt.setStepCount(found == 0 ? 0 : Math.max(1, l.iteration()));
        return l;
    }

    private static Loaded loadModels(Path file, TensorFile f, Module student, Module teacher, Module imnet) {
        Map<String, String> meta = f.metadata();
        long iter = number(file, meta, "meta.iter");
        long seed = number(file, meta, "meta.seed");
        Checkpoints.load(Checkpoints.stateOf(student), f, LoadOptions.strict().withSource(MODEL));
        if (teacher != null) Checkpoints.load(Checkpoints.stateOf(teacher), f, LoadOptions.strict().withSource(EMA));
        if (imnet != null) {
            Map<String, Tensor> targets = new LinkedHashMap<>();
            Checkpoints.stateOf(imnet).forEach((k, v) -> targets.put("backbone." + k, v));
            Checkpoints.load(targets, f, LoadOptions.strict().withSource(IMNET));
        }
        return new Loaded(iter, seed, meta);
    }

    private static void loadOptimizer(Path file, TensorFile f, AdamW opt) {
        List<String> names = opt.names();
        Map<String, StoredTensor> other = f.otherTensors();
        long steps = -1;
        for (int i = 0; i < names.size(); i++) {
            String key = "optimizer.state." + i + ".";
            StoredTensor m = other.get(key + "exp_avg"), v = other.get(key + "exp_avg_sq");
            if (m == null || v == null) throw new CheckpointException(file, "no optimizer state for parameter " + i + " (" + names.get(i) + ")");
            Tensor tm = opt.expAvg().get(i), tv = opt.expAvgSq().get(i);
            if (!Arrays.equals(m.shape(), tm.shape())) {
                throw new CheckpointException(file, "optimizer state " + i + " has shape " + Arrays.toString(m.shape()) + ", parameter "
                                                    + names.get(i) + " " + tm.shapeString() + ": a checkpoint of another model");
            }
            m.copyInto(tm);
            v.copyInto(tv);
            String step = f.metadata().get(key + "step");
            if (step == null) throw new CheckpointException(file, "no optimizer step for parameter " + i);
            steps = (long) Double.parseDouble(step);
        }
        if (other.containsKey("optimizer.state." + names.size() + ".exp_avg")) {
            throw new CheckpointException(file, "optimizer state for more parameters than the model's " + names.size());
        }
        opt.setStepCount(steps);
    }

    private static long number(Path file, Map<String, String> meta, String key) {
        String v = meta.get(key);
        if (v == null) throw new CheckpointException(file, "no '" + key + "': not a training checkpoint of hrda train or mmcv");
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new CheckpointException(file, "'" + key + "' is not a number: '" + v + "'");
        }
    }
}
