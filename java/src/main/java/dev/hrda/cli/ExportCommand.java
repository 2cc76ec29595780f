package dev.hrda.cli;

import dev.hrda.Version;
import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.io.Checkpoints;
import dev.hrda.io.LoadOptions;
import dev.hrda.io.LoadReport;
import dev.hrda.model.ModelConfig;
import dev.hrda.model.Segmentor;
import dev.hrda.tensor.DType;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.HelpFormatter;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * {@code hrda export --out FILE.pth|FILE.safetensors [--checkpoint FILE [--source S]] [--model NAME]}:
 * loads a checkpoint (any format and naming {@code hrda info --checkpoint} understands) strictly
 * into its model and writes that model's state dict under mmseg's names, as torch.save writes
 * it (.pth: mmseg's tools/test.py and torch.load(weights_only=True) read it) or as safetensors.
 * Without --checkpoint it writes the model's initial weights (--seed).
 */
final class ExportCommand implements Command {
    @Override public String name() { return "export"; }

    @Override public String summary() { return "write a checkpoint as a PyTorch .pth (or safetensors) with mmseg's names"; }

    @Override
    public int run(String[] args) throws Exception {
        Options opts = new Options()
                .addOption(Option.builder().longOpt("out").hasArg().argName("FILE").desc("output: .pth (torch.save zip format) or .safetensors").build())
                .addOption(Option.builder().longOpt("checkpoint").hasArg().argName("FILE").desc("checkpoint to convert (.pth or .safetensors)").build())
                .addOption(Option.builder().longOpt("source").hasArg().argName("PREFIX")
                                   .desc("which model of a UDA checkpoint (model, ema_model, imnet_model)").build())
                .addOption(Option.builder().longOpt("model").hasArg().argName("NAME")
                                   .desc("model (default: recognised from the checkpoint); required without --checkpoint").build())
                .addOption(Option.builder().longOpt("seed").hasArg().argName("N").desc("without --checkpoint: initialisation seed (default 0)").build())
                .addOption(Option.builder("h").longOpt("help").desc("this help").build());
        CommandLine cl = new DefaultParser().parse(opts, args);
        if (cl.hasOption("help") || !cl.hasOption("out") || !(cl.hasOption("checkpoint") || cl.hasOption("model"))) {
            new HelpFormatter().printHelp("hrda export --out FILE.pth (--checkpoint FILE | --model NAME)",
                                          "\nWrites a model's state dict with mmseg's parameter names.\n\n", opts, "");
            return cl.hasOption("help") ? 0 : 2;
        }
        Path out = Path.of(cl.getOptionValue("out"));
        String ext = out.getFileName().toString().toLowerCase(Locale.ROOT);
        boolean pth = ext.endsWith(".pth") || ext.endsWith(".pt");
        if (!pth && !ext.endsWith(".safetensors")) throw new IllegalArgumentException("--out must end in .pth, .pt or .safetensors: " + out);
        Path checkpoint = cl.hasOption("checkpoint") ? Path.of(cl.getOptionValue("checkpoint")) : null;
        ModelConfig config = checkpoint == null ? ModelConfig.named(cl.getOptionValue("model")) : ModelChoice.of(checkpoint, cl.getOptionValue("model"));
        long seed = Long.parseLong(cl.getOptionValue("seed", "0"));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("model", config.name());
        meta.put("exported_by", "hrda-java " + Version.VERSION);
        try (Backend cpu = new CpuBackend(); Segmentor model = Segmentor.create(cpu, DType.F32, config, seed)) {
            if (checkpoint != null) {
                String source = cl.getOptionValue("source");
                LoadReport r = Checkpoints.load(model, checkpoint, LoadOptions.strict().withSource(source));
                meta.put("source_checkpoint", checkpoint.toString() + (source == null ? "" : " (" + source + ")"));
                System.out.printf("loaded %d tensors of %s into %s%n", r.loaded().size(), checkpoint, config.name());
            } else {
                meta.put("init_seed", Long.toString(seed));
            }
            if (pth) Checkpoints.savePth(out, model, meta);
            else Checkpoints.save(out, model, meta);
            int tensors = Checkpoints.stateOf(model).size();
            long params = model.parameterCounts().values().stream().mapToLong(Long::longValue).sum();
            System.out.printf(Locale.ROOT, "wrote %s: %d tensors (%.3f M parameters) of %s, %s%n", out, tensors, params / 1e6, config.name(),
                              pth ? "torch.save zip format" : "safetensors");
        }
        return 0;
    }
}
