package dev.hrda.io;

import dev.hrda.nn.Module;
import dev.hrda.optim.AdamW;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Loading released PyTorch weights into a model and writing ours, with the original parameter
 * names throughout.
 *
 * <pre>{@code
 * // MiT-B5 ImageNet initialisation (SegFormer's mit_b5.pth: bare names, classifier ignored)
 * LoadReport r = Checkpoints.load(model, Path.of("pretrained/mit_b5.pth"), LoadOptions.nonStrict());
 * // a released HRDA checkpoint, the EMA teacher
 * Checkpoints.load(model, Path.of("latest.pth"), LoadOptions.strict().withSource("ema_model"));
 * // ours: iter_4000.safetensors + iter_4000.optim.safetensors
 * Checkpoints.save(Path.of("work/iter_4000.safetensors"), model, optimizer, Map.of("iter", "4000"));
 * }</pre>
 */
public final class Checkpoints {
    private Checkpoints() {}

    /** Parameters and buffers of a model by name (the tensors a checkpoint fills). */
    public static Map<String, Tensor> stateOf(Module model) {
        Map<String, Tensor> out = new LinkedHashMap<>(model.namedParameters());
        out.putAll(model.namedBuffers());
        return out;
    }

    /** The names and shapes a model expects (for {@link CheckpointInfo}). */
    public static Map<String, int[]> shapesOf(Module model) {
        Map<String, int[]> out = new LinkedHashMap<>();
        stateOf(model).forEach((k, v) -> out.put(k, v.shape()));
        return out;
    }

    /**
     * Reads {@code file} (safetensors or .pth) and copies its tensors into the model's parameters
     * and buffers, converting dtypes where they differ.
     * @throws CheckpointException with the {@link LoadReport} in its message: in strict mode when
     *         the report is not {@link LoadReport#ok()} (nothing is loaded then), in both modes when
     *         no tensor at all matches
     */
    public static LoadReport load(Module model, Path file, LoadOptions opts) {
        return load(stateOf(model), TensorFile.read(file), opts);
    }

    /** As {@link #load(Module, Path, LoadOptions)}, into any named tensors. */
    public static LoadReport load(Map<String, Tensor> targets, TensorFile file, LoadOptions opts) {
        Map<String, int[]> shapes = new LinkedHashMap<>();
        Map<String, DType> dtypes = new LinkedHashMap<>();
        targets.forEach((k, v) -> {
            shapes.put(k, v.shape());
            dtypes.put(k, v.dtype());
        });
        LoadReport report = NameMapping.plan(file.path(), file.tensors(), shapes, dtypes, opts);
        if (opts.isStrict() && !report.ok()) {
            throw new CheckpointException(file.path(), "does not match the model (strict load, nothing loaded):\n" + report);
        }
        if (report.loaded().isEmpty() && !targets.isEmpty()) {
            throw new CheckpointException(file.path(), "no tensor matches the model (nothing loaded):\n" + report);
        }
        for (LoadReport.Loaded l : report.loaded()) {
            try {
                file.tensors().get(l.source()).copyInto(targets.get(l.target()));
            } catch (RuntimeException e) {
                throw new CheckpointException(file.path(), "tensor '" + l.source() + "': " + e.getMessage(), e);
            }
        }
        return report;
    }

    /**
     * Writes the model's parameters and buffers (their current values, any backend) as
     * safetensors with {@code meta} (config text, iteration, ...) in __metadata__; atomic.
     */
    public static void save(Path file, Module model, Map<String, String> meta) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("format", "pt");  // the convention of safetensors files holding PyTorch names
        if (meta != null) m.putAll(meta);
        SafeTensors.write(file, torchState(model), m);
    }

    /**
     * Writes the model as torch.save would, {@code {'meta': meta, 'state_dict': OrderedDict}}
     * (see {@link TorchWriter}): mmseg's tools load it as one of their own checkpoints; atomic.
     */
    public static void savePth(Path file, Module model, Map<String, String> meta) {
        TorchWriter.write(file, torchState(model), meta);
    }

    /** The model's state dict as PyTorch's would be: parameters, buffers and BatchNorm's batch counters. */
    private static Map<String, StoredTensor> torchState(Module model) {
        Map<String, StoredTensor> out = new LinkedHashMap<>();
        stateOf(model).forEach((k, v) -> {
            out.put(k, StoredTensor.lazyCopyOf(v));
            // PyTorch's BatchNorm also keeps a batch counter; write it (0: unused with momentum 0.1)
            // so that torch's strict load_state_dict accepts our files
            if (k.endsWith(".running_var")) {
                out.put(k.substring(0, k.length() - "running_var".length()) + "num_batches_tracked", StoredTensor.ofLongs(new long[] {0}));
            }
        });
        return out;
    }

    /**
     * Writes the model to {@code file} and the optimizer state beside it ({@link #optimizerPath}),
     * the optimizer first: a model file whose optimizer file exists is a complete pair.
     */
    public static void save(Path file, Module model, AdamW optimizer, Map<String, String> meta) {
        saveOptimizer(optimizerPath(file), optimizer, meta);
        save(file, model, meta);
    }

    /** {@code iter_4000.safetensors} -> {@code iter_4000.optim.safetensors}. */
    public static Path optimizerPath(Path modelFile) {
        String name = modelFile.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String stem = dot > 0 ? name.substring(0, dot) : name;
        return modelFile.resolveSibling(stem + ".optim.safetensors");
    }

    /** AdamW's exp_avg/exp_avg_sq per parameter name, with step and hyperparameters in the metadata; atomic. */
    public static void saveOptimizer(Path file, AdamW optimizer, Map<String, String> meta) {
        Map<String, StoredTensor> out = new LinkedHashMap<>();
        optimizer.stateTensors().forEach((k, v) -> out.put(k, StoredTensor.lazyCopyOf(v)));
        Map<String, String> m = new LinkedHashMap<>();
        if (meta != null) m.putAll(meta);
        m.put("optimizer", "AdamW");
        m.put("step", Long.toString(optimizer.stepCount()));
        m.put("lr", Double.toString(optimizer.baseLr));
        m.put("betas", optimizer.beta1 + "," + optimizer.beta2);
        m.put("eps", Float.toString(optimizer.eps));
        m.put("weight_decay", Double.toString(optimizer.weightDecay));
        SafeTensors.write(file, out, m);
    }

    /** Restores the optimizer state (strictly: every parameter's state must be there) and its step. */
    public static LoadReport loadOptimizer(Path file, AdamW optimizer) {
        TensorFile f = TensorFile.read(file);
        String step = f.metadata().get("step");
        if (step == null) throw new CheckpointException(file, "no 'step' in the metadata: not an optimizer checkpoint");
        long steps;
        try {
            steps = Long.parseLong(step);
        } catch (NumberFormatException e) {
            throw new CheckpointException(file, "metadata 'step' is not a number: '" + step + "'");
        }
        LoadReport r = load(optimizer.stateTensors(), f, LoadOptions.strict());
        optimizer.setStepCount(steps);
        return r;
    }
}
