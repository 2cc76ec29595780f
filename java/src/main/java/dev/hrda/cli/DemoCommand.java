package dev.hrda.cli;

import dev.hrda.autograd.F;
import dev.hrda.backend.Backend;
import dev.hrda.backend.Backends;
import dev.hrda.data.DataException;
import dev.hrda.data.Images;
import dev.hrda.data.LabelMaps;
import dev.hrda.data.Pipeline;
import dev.hrda.data.PipelineConfig;
import dev.hrda.data.Sample;
import dev.hrda.eval.Predictor;
import dev.hrda.eval.ShowResult;
import dev.hrda.io.CheckpointException;
import dev.hrda.io.Checkpoints;
import dev.hrda.io.LoadOptions;
import dev.hrda.io.LoadReport;
import dev.hrda.model.HrdaEncoderDecoder;
import dev.hrda.model.ModelConfig;
import dev.hrda.model.Segmentor;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.HelpFormatter;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;
import org.bytedeco.opencv.opencv_core.Mat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code hrda demo IMAGE... --checkpoint FILE [--out DIR]}: the original demo/image_demo.py and
 * the visualisations of its test.sh, per image: the prediction in the Cityscapes palette
 * ({@code <name>_pred.png}), blended over the image ({@code <name>_blend.png}, mmseg's
 * show_result with opacity 0.5) and as train ids ({@code <name>_trainIds.png}); for HRDA also
 * the context-only and detail-only predictions ({@code _lr.png}, {@code _hr.png}: the scale
 * attention fixed to 0 and 1, test.py --hrda-out LR|HR) and the scale attention map
 * ({@code _attention.png}, --hrda-out ATT: white where the fused prediction follows the detail
 * branch).
 */
final class DemoCommand implements Command {
    @Override public String name() { return "demo"; }

    @Override public String summary() { return "predict images with a checkpoint: palette PNG, blend; HRDA's LR, HR and attention maps"; }

    @Override
    public int run(String[] args) throws Exception {
        Options opts = new Options()
                .addOption(Option.builder().longOpt("checkpoint").hasArg().argName("FILE").desc("weights (.pth or .safetensors)").build())
                .addOption(Option.builder().longOpt("source").hasArg().argName("PREFIX").desc("model (default, the student) or ema_model").build())
                .addOption(Option.builder().longOpt("model").hasArg().argName("NAME").desc("default: recognised from the checkpoint").build())
                .addOption(Option.builder().longOpt("out").hasArg().argName("DIR").desc("output folder (default demo_out)").build())
                .addOption(Option.builder().longOpt("test-scale").hasArg().argName("WxH")
                                   .desc("Resize (keep ratio) target (default 2048x1024 for HRDA, 1024x512 for DAFormer)").build())
                .addOption(Option.builder().longOpt("device").hasArg().argName("cpu|cuda|auto").desc("backend (default auto)").build())
                .addOption(Option.builder("h").longOpt("help").desc("this help").build());
        CommandLine cl = new DefaultParser().parse(opts, args);
        if (cl.hasOption("help") || !cl.hasOption("checkpoint") || cl.getArgList().isEmpty()) {
            new HelpFormatter().printHelp("hrda demo IMAGE... --checkpoint FILE [--out DIR]", "\n", opts, "");
            return cl.hasOption("help") ? 0 : 2;
        }
        Path checkpoint = Path.of(cl.getOptionValue("checkpoint"));
        if (!Files.isRegularFile(checkpoint)) throw new CheckpointException(checkpoint, "checkpoint does not exist");
        List<Path> images = new ArrayList<>();
        for (String a : cl.getArgList()) {
            Path img = Path.of(a);
            if (!Files.isRegularFile(img)) throw new DataException(img, "image does not exist");
            images.add(img);
        }
        ModelConfig config = ModelChoice.of(checkpoint, cl.getOptionValue("model"));
        int[] scale = cl.hasOption("test-scale") ? TestCommand.parseScale(cl.getOptionValue("test-scale"))
                    : config.isHrda() ? new int[] {2048, 1024} : new int[] {1024, 512};
        Path out = Path.of(cl.getOptionValue("out", "demo_out"));
        Files.createDirectories(out);
        try (Backend backend = Backends.create(cl.getOptionValue("device", "auto"));
             Segmentor model = Segmentor.create(backend, DType.F32, config, 0)) {
            LoadReport report = Checkpoints.load(model, checkpoint, LoadOptions.strict().withSource(cl.getOptionValue("source")));
            System.out.printf("model %s: %d tensors loaded from %s; %s%n", config.name(), report.loaded().size(), checkpoint, backend.describe());
            model.train(false);
            Pipeline pipe = new Pipeline(PipelineConfig.test(scale[0], scale[1]).withLabel(false));
            for (Path img : images) {
                List<Path> written = predict(backend, model, pipe, img, out);
                System.out.println(img + " -> " + String.join(", ", written.stream().map(p -> p.getFileName().toString()).toList()));
            }
        }
        return 0;
    }

    private static List<Path> predict(Backend backend, Segmentor model, Pipeline pipe, Path image, Path out) throws IOException {
        List<Path> written = new ArrayList<>();
        String name = image.getFileName().toString();
        String stem = name.contains(".") ? name.substring(0, name.lastIndexOf('.')) : name;
        try (Pipeline.Prepared p = pipe.prepare(image, null)) {
            Sample s = pipe.finish(p, new int[] {0, 0, p.height(), p.width()}, false);
            int w = p.originalWidth(), h = p.originalHeight();
            byte[] bgr = Images.toBytes(p.image());
            byte[] classes = classify(backend, model, s, h, w);
            written.add(palette(out.resolve(stem + "_pred.png"), classes, w, h));
            Path blend = out.resolve(stem + "_blend.png");
            try (Mat m = Images.bgrMat(ShowResult.blend(bgr, classes, LabelMaps.PALETTE, ShowResult.OPACITY), w, h)) {
                Images.writePng(blend, m);
            }
            written.add(blend);
            Path ids = out.resolve(stem + "_trainIds.png");
            Images.writeLabelPng(ids, classes, w, h);
            written.add(ids);
            if (model instanceof HrdaEncoderDecoder hrda) {
                double learned = hrda.decodeHead.fixedAttention();
                try {
                    hrda.decodeHead.fixAttention(0);
                    written.add(palette(out.resolve(stem + "_lr.png"), classify(backend, model, s, h, w), w, h));
                    hrda.decodeHead.fixAttention(1);
                    written.add(palette(out.resolve(stem + "_hr.png"), classify(backend, model, s, h, w), w, h));
                } finally {
                    hrda.decodeHead.fixAttention(learned);
                }
                try {
                    hrda.setTestOutput(HrdaEncoderDecoder.TestOutput.ATTENTION);
                    written.add(attention(backend, model, s, h, w, out.resolve(stem + "_attention.png")));
                } finally {
                    hrda.setTestOutput(HrdaEncoderDecoder.TestOutput.LOGITS);
                }
            }
        }
        return written;
    }

    private static byte[] classify(Backend backend, Segmentor model, Sample s, int h, int w) {
        try (Arena a = Arena.open()) {
            Tensor img = Tensor.empty(backend, DType.F32, 1, 3, s.height(), s.width());
            img.copyFrom(s.image());
            Tensor logits = model.inference(img);
            if (logits.dim(2) != h || logits.dim(3) != w) logits = F.resize(logits, h, w);
            return Predictor.argmax(logits);
        }
    }

    private static Path attention(Backend backend, Segmentor model, Sample s, int h, int w, Path file) {
        float[] v;
        try (Arena a = Arena.open()) {
            Tensor img = Tensor.empty(backend, DType.F32, 1, 3, s.height(), s.width());
            img.copyFrom(s.image());
            Tensor att = model.inference(img);
            if (att.dim(2) != h || att.dim(3) != w) att = F.resize(att, h, w);
            v = att.toFloatArray();
        }
        byte[] gray = new byte[v.length];
        for (int i = 0; i < v.length; i++) gray[i] = (byte) Math.max(0, Math.min(255, Math.round(255 * v[i])));
        Images.writeLabelPng(file, gray, w, h);
        return file;
    }

    private static Path palette(Path file, byte[] classes, int w, int h) {
        byte[] bgr = new byte[3 * classes.length];
        for (int i = 0; i < classes.length; i++) {
            int c = classes[i] & 0xFF;
            int[] rgb = c < LabelMaps.PALETTE.length ? LabelMaps.PALETTE[c] : new int[] {0, 0, 0};
            bgr[3 * i] = (byte) rgb[2];
            bgr[3 * i + 1] = (byte) rgb[1];
            bgr[3 * i + 2] = (byte) rgb[0];
        }
        try (Mat m = Images.bgrMat(bgr, w, h)) {
            Images.writePng(file, m);
        }
        return file;
    }
}
