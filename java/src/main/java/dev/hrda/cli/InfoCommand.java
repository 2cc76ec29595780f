package dev.hrda.cli;

import dev.hrda.Version;
import dev.hrda.backend.Backend;
import dev.hrda.backend.Backends;
import dev.hrda.backend.CpuBackend;
import dev.hrda.kernels.CudaRuntime;
import dev.hrda.io.CheckpointInfo;
import dev.hrda.io.Checkpoints;
import dev.hrda.io.LoadOptions;
import dev.hrda.model.BackboneConfig;
import dev.hrda.model.DecodeHeadConfig;
import dev.hrda.model.DeepLabConfig;
import dev.hrda.model.HeadConfig;
import dev.hrda.model.MitConfig;
import dev.hrda.model.ModelConfig;
import dev.hrda.model.ResNetConfig;
import dev.hrda.model.Segmentor;
import dev.hrda.tensor.DType;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.HelpFormatter;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/** {@code hrda info}: version, backend, device, CUDA/cuDNN versions, which native libraries load. */
final class InfoCommand implements Command {
    @Override public String name() { return "info"; }

    @Override public String summary() { return "version, backend and device, native libraries"; }

    @Override
    public int run(String[] args) throws Exception {
        Options opts = new Options()
                .addOption(Option.builder().longOpt("device").hasArg().argName("cpu|cuda|auto").desc("backend (default auto)").build())
                .addOption(Option.builder().longOpt("model").hasArg().argName("NAME")
                                   .desc("parameter count of each component of a model (hrda_mitb5, daformer_mitb0, …)").build())
                .addOption(Option.builder().longOpt("checkpoint").hasArg().argName("FILE")
                                   .desc("list a checkpoint's tensors (.pth or .safetensors) and how each maps onto the model"
                                         + " (--model, or the one its names and shapes describe)").build())
                .addOption(Option.builder().longOpt("source").hasArg().argName("PREFIX")
                                   .desc("with --checkpoint: which model of a UDA checkpoint (model, ema_model, imnet_model)").build())
                .addOption(Option.builder("h").longOpt("help").desc("this help").build());
        CommandLine cl = new DefaultParser().parse(opts, args);
        if (cl.hasOption("help")) {
            new HelpFormatter().printHelp("hrda info", opts);
            return 0;
        }
        if (cl.hasOption("checkpoint")) return describeCheckpoint(Path.of(cl.getOptionValue("checkpoint")), cl.getOptionValue("model"),
                                                                  cl.getOptionValue("source"));
        if (cl.hasOption("model")) return describeModel(cl.getOptionValue("model"));
        String device = cl.getOptionValue("device", "auto");
        System.out.println("hrda-java " + Version.VERSION + " (Java " + Runtime.version() + ", " + System.getProperty("os.arch") + ")");

        String cpuStatus;
        try (Backend cpu = new CpuBackend()) {
            cpuStatus = "loaded  " + cpu.describe();
        } catch (Throwable t) {
            cpuStatus = "FAILED  " + t;
        }
        System.out.println("native  libhrda_cpu : " + cpuStatus);

        CudaRuntime.Probe p = CudaRuntime.probe();
        System.out.println("native  libhrda_cuda: " + (p.buildInfo().isEmpty() ? "not loaded" : "loaded  build " + p.buildInfo()));
        System.out.println("cuda    runtime " + CudaRuntime.version(p.runtimeVersion()) + ", driver "
                           + CudaRuntime.version(p.driverVersion()) + ", devices " + p.deviceCount()
                           + (p.usable() ? "" : "  (" + p.reason() + ")"));
        if (p.usable()) {
            for (int i = 0; i < p.deviceCount(); i++) {
                CudaRuntime.DeviceInfo d = CudaRuntime.deviceInfo(i);
                System.out.printf("device  %d: %s, %.1f GiB, sm_%d%d, %d SMs%n", i, d.name(), d.totalMemory() / (double) (1L << 30),
                                  d.ccMajor(), d.ccMinor(), d.smCount());
            }
        }
        try (Backend b = Backends.create(device)) {
            System.out.println("backend " + b.describe());
        } catch (IllegalStateException e) {
            System.out.println("backend unavailable: " + e.getMessage());
            return 1;
        }
        return 0;
    }

    /** Lists a checkpoint's tensors; with a model, how each maps onto it and what is missing. Exit 1 if it would not load strictly. */
    private static int describeCheckpoint(Path file, String model, String source) {
        ModelConfig config;
        if (model != null) {
            config = ModelConfig.named(model);
        } else {
            try {
                config = ModelChoice.recognise(file);
                System.out.println("model recognised from the file's names and shapes: " + config.name() + " (--model to choose another)");
            } catch (IllegalArgumentException e) {
                System.out.println(CheckpointInfo.of(file));
                System.out.println("model not recognised: " + e.getMessage());
                return 0;
            }
        }
        model = config.name();
        LoadOptions opts = LoadOptions.strict().withSource(source);
        try (Backend cpu = new CpuBackend(); Segmentor m = Segmentor.create(cpu, DType.F32, config, 0)) {
            CheckpointInfo info = CheckpointInfo.of(file, Checkpoints.shapesOf(m), opts);
            System.out.println(info);
            boolean ok = info.report().ok();
            System.out.println(ok ? "loads into " + model + " (strict)" : "does NOT load strictly into " + model);
            return ok ? 0 : 1;
        }
    }

    private static String describe(BackboneConfig b) {
        if (b instanceof MitConfig mit) {
            return String.format("%s (dims %s, depths %s, heads %s, sr %s)", mit.name(), Arrays.toString(mit.embedDims()), Arrays.toString(mit.depths()),
                                 Arrays.toString(mit.heads()), Arrays.toString(mit.srRatios()));
        }
        ResNetConfig r = (ResNetConfig) b;
        return String.format("%s (Bottleneck blocks %s, width %d, output stride 8, %s)", r.name(), Arrays.toString(r.blocks()), r.width(),
                             r.frozenBn() ? "FrozenBN" : "BatchNorm");
    }

    private static String describe(DecodeHeadConfig h) {
        if (h instanceof HeadConfig d) {
            return String.format("DAFormer head (embed %d, %s)", d.embedDim(),
                                 d.fusion() == HeadConfig.Fusion.ASPP ? "sep-ASPP " + Arrays.toString(d.dilations()) : "1x1 fusion");
        }
        DeepLabConfig d = (DeepLabConfig) h;
        return d.kind() == DeepLabConfig.Kind.V2 ? "DeepLab-v2 head (ASPP classifier, dilations " + Arrays.toString(d.dilations()) + ", summed)"
                                                 : String.format("DeepLab-v3+ head (sep-ASPP %d ch, rates %s + image pooling, %d-ch shortcut)",
                                                                 d.channels(), Arrays.toString(d.dilations()), d.lowChannels());
    }

    /** Builds the model on the CPU and prints its components' parameter counts. */
    private static int describeModel(String name) {
        ModelConfig c = ModelConfig.named(name);
        System.out.printf("model %s: %s + %s%s%n", c.name(), describe(c.backbone()), describe(c.head()),
                          c.isHrda() ? " + class-wise scale attention, detail crop " + c.hrda().hrCropSize() : "");
        try (Backend cpu = new CpuBackend(); Segmentor m = Segmentor.create(cpu, DType.F32, c, 0)) {
            long total = 0;
            for (Map.Entry<String, Long> e : m.parameterCounts().entrySet()) {
                System.out.printf("  %-30s %10.3f M%n", e.getKey(), e.getValue() / 1e6);
                total += e.getValue();
            }
            System.out.printf("  %-30s %10.3f M  (%.1f MiB in f32)%n", "total", total / 1e6, total * 4 / (double) (1 << 20));
        }
        return 0;
    }
}
