package dev.hrda.config;

import dev.hrda.data.AtomicFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A training run as the originals configure it (mmseg configs with {@code _base_}
 * inheritance), read from YAML under {@code configs/}: see docs/config.md. Immutable.
 *
 * @param stem       the file name without .yaml: the run's folder is work_dirs/&lt;stem&gt;
 * @param name       the config's {@code name}, or the stem
 * @param text       the merged config as YAML (what {@link #dump} writes, loadable again)
 * @param uda        null: plain source-only training (no uda section)
 * @param maxIters   runner.max_iters
 * @param logInterval log_config.interval
 * @param loadFrom   load_from (absolute path) or null; so resumeFrom
 * @param synth      our extension: the synthetic benchmark to draw when absent, or null
 * @param runtime    our extension: device, dtype, activation checkpointing (defaults where absent)
 * @param active     our extension: RIPU's active domain adaptation (null: DACS or source-only as {@code uda} says)
 * @param origins    where each value was set: dotted key ({@code data.val[1].img_dir}) to file:line
 *                   or {@code --cfg-options} entry (added)
 */
public record TrainConfig(Path file, String stem, String name, String text, long seed, ModelSpec model, DataSpec data, UdaSpec uda,
                          OptimizerSpec optimizer, LrSpec lr, int maxIters, CheckpointSpec checkpoint, EvalSpec evaluation,
                          int logInterval, String loadFrom, String resumeFrom, SynthSpec synth, RuntimeSpec runtime,
                          ActiveSpec active, Map<String, Origin> origins) {

    /** Top-level keys we bind. */
    static final List<String> KEYS = List.of("seed", "name", "model", "data", "uda", "optimizer", "optimizer_config", "lr_config", "runner",
                                             "checkpoint_config", "evaluation", "log_config", "load_from", "resume_from", "synth",
                                             "runtime", "active");
    /**
     * Top-level keys of the originals that we accept and do not use: runtime settings of
     * mmcv, meta information, and the variables of the Python configs (crop_size,
     * img_norm_cfg, ...; also any key ending in _pipeline, and name_*).
     */
    static final List<String> ACCEPTED = List.of("dist_params", "log_level", "workflow", "cudnn_benchmark", "use_ddp_wrapper", "n_gpus",
                                                 "gpu_model", "gpu_ids", "exp", "work_dir", "find_unused_parameters", "norm_cfg",
                                                 "dataset_type", "data_root", "img_norm_cfg", "crop_size");

    public TrainConfig {
        origins = Collections.unmodifiableMap(new LinkedHashMap<>(origins));
    }

    /** {@link #load(Path, List)} without overrides. */
    public static TrainConfig load(Path file) {
        return load(file, List.of());
    }

    /**
     * Loads {@code file} with its {@code _base_} files, applies {@code cfgOptions}
     * ({@code key=value}, as mmseg's {@code --cfg-options}) and binds the result.
     *
     * @throws ConfigException naming the file (and line) and the dotted key of what is wrong
     */
    public static TrainConfig load(Path file, List<String> cfgOptions) {
        Node.Dict tree = ConfigLoader.load(file, cfgOptions);
        String stem = file.getFileName().toString().replaceFirst("\\.ya?ml$", "");
        return bind(file.toAbsolutePath().normalize(), stem, tree, ConfigYaml.dump(tree, file, cfgOptions));
    }

    /** Where a value was set ("file:line"), or null if the config has no such key. */
    public String where(String dottedKey) {
        Origin o = origins.get(dottedKey);
        return o == null ? null : o.toString();
    }

    /** True for HRDA (multi-resolution) models. */
    public boolean isHrda() {
        return model.isHrda();
    }

    /** Writes {@link #text} to {@code dir/<stem>.yaml} (atomically; dir is created), as mmseg copies the config into its work dir. */
    public Path dump(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Path out = dir.resolve(stem + ".yaml");
        AtomicFiles.writeString(out, text);
        return out;
    }

    private static TrainConfig bind(Path file, String stem, Node.Dict tree, String text) {
        List<String> valid = new ArrayList<>(KEYS);
        valid.addAll(ACCEPTED);
        Section r = Section.root(tree, valid, k -> k.startsWith("name_") || k.endsWith("_pipeline"));
        long seed = r.has("seed") ? r.integer("seed") : 0;
        String name = r.string("name", stem);
        ModelSpec model = ModelSpec.bind(r.section("model", ModelSpec.KEYS));
        UdaSpec uda = r.has("uda") ? UdaSpec.bind(r.section("uda", UdaSpec.KEYS)) : null;
        DataSpec data = DataSpec.bind(r.section("data", DataSpec.KEYS), uda, r.has("active"));
        OptimizerSpec optimizer = OptimizerSpec.bind(r.section("optimizer", "type", "lr", "betas", "weight_decay", "eps", "amsgrad",
                                                               "paramwise_cfg", "momentum", "dampening", "nesterov"));
        Section oc = r.optSection("optimizer_config", "grad_clip");
        if (oc != null) oc.fixed("grad_clip", null, "no gradient clipping in the originals (DACS steps the optimizer itself)");
        LrSpec lr = LrSpec.bind(r.section("lr_config", "policy", "power", "min_lr", "by_epoch", "warmup", "warmup_iters", "warmup_ratio",
                                          "warmup_by_epoch", "total_iters"), optimizer.lr());
        Section runner = r.section("runner", "type", "max_iters");
        runner.choice("type", null, "IterBasedRunner");
        int maxIters = runner.integer("max_iters", 1, Integer.MAX_VALUE);
        if (lr.totalIters() > 0 && lr.totalIters() < maxIters) {
            throw ConfigException.at(r.origin("lr_config"), "lr_config.total_iters " + lr.totalIters() + " is shorter than runner.max_iters " + maxIters);
        }
        CheckpointSpec checkpoint = CheckpointSpec.bind(r.optSection("checkpoint_config", "by_epoch", "interval", "max_keep_ckpts",
                                                                     "save_optimizer"), maxIters);
        Section ev = r.optSection("evaluation", "interval", "metric", "by_epoch");
        EvalSpec evaluation = EvalSpec.bind(ev);
        if (ev != null && data.val().isEmpty()) throw ev.error("needs data.val (the data sets to evaluate on)");
        Section log = r.optSection("log_config", "interval", "hooks");
        int logInterval = log == null ? 50 : log.integer("interval", 50, 1, Integer.MAX_VALUE);
        SynthSpec synth = SynthSpec.bind(r.optSection("synth", "root", "seed", "width", "height", "count"));
        RuntimeSpec runtime = RuntimeSpec.bind(r.optSection("runtime", "device", "dtype", "with_cp"));
        ActiveSpec active = r.has("active") ? ActiveSpec.bind(r.section("active", ActiveSpec.KEYS), maxIters) : null;
        if (active != null) {
            if (model.isHrda()) throw ConfigException.at(r.origin("active"), "active (RIPU) trains an EncoderDecoder, not HRDA");
            if (uda == null || !uda.sourceOnly()) {
                throw ConfigException.at(r.origin("active"), "active (RIPU) needs uda.source_only: true (RIPU has no EMA teacher and no ClassMix)");
            }
            if (data.target() == null) throw ConfigException.at(r.origin("active"), "active (RIPU) needs data.train.target (the images to select from)");
        }

        if (model.isHrda()) {
            int hrCrop = model.config().hrda().hrCropSize();
            var p = data.source().pipeline();
            if (p.cropH() > 0 && (hrCrop > p.cropH() || hrCrop > p.cropW())) {
                throw ConfigException.at(r.origin("model"), "model.hr_crop_size " + hrCrop + " is larger than the training crop "
                                                            + p.cropH() + "x" + p.cropW() + " (data.train.source.pipeline)");
            }
            int testCrop = model.config().testCrop();
            if (testCrop > 0 && testCrop < hrCrop) {
                throw ConfigException.at(r.origin("model"), "model.test_cfg.crop_size " + testCrop + " is smaller than hr_crop_size " + hrCrop);
            }
        }
        return new TrainConfig(file, stem, name, text, seed, model, data, uda, optimizer, lr, maxIters, checkpoint, evaluation, logInterval,
                               path(r.string("load_from", null)), path(r.string("resume_from", null)), synth, runtime, active, origins(tree));
    }

    private static String path(String p) {
        return p == null ? null : Path.of(p).toAbsolutePath().normalize().toString();
    }

    private static Map<String, Origin> origins(Node.Dict tree) {
        Map<String, Origin> out = new LinkedHashMap<>();
        tree.entries().forEach((k, v) -> collect(k, v, out));
        return out;
    }

    private static void collect(String path, Node n, Map<String, Origin> out) {
        out.put(path, n.origin());
        if (n instanceof Node.Dict d) d.entries().forEach((k, v) -> collect(path + "." + k, v, out));
        else if (n instanceof Node.Seq s) for (int i = 0; i < s.items().size(); i++) collect(path + "[" + i + "]", s.items().get(i), out);
    }
}
