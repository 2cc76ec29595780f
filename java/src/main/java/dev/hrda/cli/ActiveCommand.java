package dev.hrda.cli;

import dev.hrda.active.Budget;
import dev.hrda.active.RegionSelector;
import dev.hrda.backend.Backend;
import dev.hrda.backend.Backends;
import dev.hrda.data.AtomicFiles;
import dev.hrda.data.DataException;
import dev.hrda.data.Dataset;
import dev.hrda.data.DatasetKind;
import dev.hrda.data.Images;
import dev.hrda.data.LabelCheck;
import dev.hrda.data.Pipeline;
import dev.hrda.data.PipelineConfig;
import dev.hrda.data.Png;
import dev.hrda.io.CheckpointException;
import dev.hrda.io.Checkpoints;
import dev.hrda.io.LoadOptions;
import dev.hrda.model.EncoderDecoder;
import dev.hrda.model.ModelConfig;
import dev.hrda.model.Segmentor;
import dev.hrda.ripu.ActiveLabels;
import dev.hrda.ripu.SelectionRound;
import dev.hrda.tensor.DType;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.HelpFormatter;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * RIPU on a real, unlabelled target set: {@code hrda active select} writes, for a checkpoint and
 * a budget, the regions a person should label (per image an 8-bit PNG at the image's size, 255 =
 * to be labelled, 0 = not; the suppression mask for later rounds; and {@code regions.json}
 * with every region's centre, box and score), and {@code hrda active import} takes the
 * annotations back: it keeps their train ids inside the selected regions, 255 elsewhere, and
 * checks them, giving a label folder to train on.
 */
final class ActiveCommand {
    private ActiveCommand() {}

    static final class Select implements Command {
        @Override public String name() { return "active select"; }

        @Override public String summary() { return "write the regions to label for a checkpoint and a budget (RIPU RA/PA)"; }

        @Override
        public int run(String[] args) throws Exception {
            Options opts = new Options()
                    .addOption(Option.builder().longOpt("checkpoint").hasArg().argName("FILE").desc("weights (.pth or .safetensors)").build())
                    .addOption(Option.builder().longOpt("model").hasArg().argName("NAME").desc("model (default: recognised from the checkpoint)").build())
                    .addOption(Option.builder().longOpt("source").hasArg().argName("PREFIX").desc("which model of a UDA checkpoint").build())
                    .addOption(Option.builder().longOpt("data").hasArg().argName("KIND").desc("data set: " + DatasetKind.names()).build())
                    .addOption(Option.builder().longOpt("root").hasArg().argName("DIR").desc("data set root (original layout)").build())
                    .addOption(Option.builder().longOpt("split").hasArg().argName("S").desc("split (default train)").build())
                    .addOption(Option.builder().longOpt("budget").hasArg().argName("2.2%|40px")
                                       .desc("RA: a percentage of each image; PA: pixels per image at 1280x640 (RIPU's units)").build())
                    .addOption(Option.builder().longOpt("mode").hasArg().argName("RA|PA").desc("regions or pixels (default: from the budget)").build())
                    .addOption(Option.builder().longOpt("radius").hasArg().argName("K").desc("RA region radius k (default 1: 3x3); PA window radius (default 32)").build())
                    .addOption(Option.builder().longOpt("rounds").hasArg().argName("N")
                                       .desc("the budget is spread over N rounds; this call is one of them (default 1: all of it now)").build())
                    .addOption(Option.builder().longOpt("previous").hasArg().argName("DIR").desc("the --out of the earlier rounds: their regions are not chosen again").build())
                    .addOption(Option.builder().longOpt("scale").hasArg().argName("WxH").desc("network input (keep ratio; default 1280x640, RIPU's)").build())
                    .addOption(Option.builder().longOpt("interpolation").hasArg().argName("bilinear|bicubic")
                                       .desc("image resize to the network input (default bilinear; bicubic: RIPU's)").build())
                    .addOption(Option.builder().longOpt("device").hasArg().argName("cpu|cuda|auto").desc("backend (default auto)").build())
                    .addOption(Option.builder().longOpt("max-images").hasArg().argName("N").desc("only the first N images").build())
                    .addOption(Option.builder().longOpt("out").hasArg().argName("DIR").desc("where the masks and regions.json go").build())
                    .addOption(Option.builder("q").longOpt("quiet").desc("no progress lines").build())
                    .addOption(Option.builder("h").longOpt("help").desc("this help").build());
            CommandLine cl = new DefaultParser().parse(opts, args);
            if (cl.hasOption("help") || !cl.hasOption("checkpoint") || !cl.hasOption("data") || !cl.hasOption("root") || !cl.hasOption("budget")
                || !cl.hasOption("out")) {
                new HelpFormatter().printHelp("hrda active select --checkpoint FILE --data KIND --root DIR --budget 2.2%|40px [--mode RA|PA] --out DIR",
                                              "\nRIPU's acquisition on an unlabelled set: per image the regions to label.\n\n", opts, "");
                return cl.hasOption("help") ? 0 : 2;
            }
            Path checkpoint = Path.of(cl.getOptionValue("checkpoint"));
            if (!Files.isRegularFile(checkpoint)) throw new CheckpointException(checkpoint, "checkpoint does not exist");
            ModelConfig config = ModelChoice.of(checkpoint, cl.getOptionValue("model"));
            if (config.isHrda()) throw new IllegalArgumentException(config.name() + ": RIPU's acquisition runs on an EncoderDecoder, not HRDA");
            Budget budget = Budget.parse(cl.getOptionValue("budget"));
            String mode = cl.getOptionValue("mode", budget.kind() == Budget.Kind.RATIO ? "RA" : "PA").toUpperCase(Locale.ROOT);
            if (!mode.equals("RA") && !mode.equals("PA")) throw new IllegalArgumentException("--mode must be RA or PA, got '" + cl.getOptionValue("mode") + "'");
            boolean regions = mode.equals("RA");
            if (regions != (budget.kind() == Budget.Kind.RATIO)) {
                throw new IllegalArgumentException("--budget " + budget.text() + " is a " + (regions ? "PA pixel count" : "RA percentage") + " but --mode is " + mode);
            }
            int radius = cl.hasOption("radius") ? nonNegative("--radius", cl.getOptionValue("radius")) : regions ? 1 : 32;
            int rounds = cl.hasOption("rounds") ? TestCommand.positive("--rounds", cl.getOptionValue("rounds")) : 1;
            int[] scale = cl.hasOption("scale") ? TestCommand.parseScale(cl.getOptionValue("scale")) : new int[] {1280, 640};
            PipelineConfig.Interpolation interpolation = TestCommand.interpolation(cl.getOptionValue("interpolation"));
            DatasetKind kind = DatasetKind.parse(cl.getOptionValue("data"));
            Path root = Path.of(cl.getOptionValue("root")), out = Path.of(cl.getOptionValue("out"));
            Path previous = cl.hasOption("previous") ? Path.of(cl.getOptionValue("previous")) : null;
            Dataset dataset = Dataset.open(kind, root, cl.getOptionValue("split", "train"), false);
            List<Dataset.Item> items = dataset.items();
            if (cl.hasOption("max-images")) items = items.subList(0, Math.min(items.size(), TestCommand.positive("--max-images", cl.getOptionValue("max-images"))));
            Files.createDirectories(out);
            try (Backend backend = Backends.create(cl.getOptionValue("device", "auto"));
                 Segmentor model = Segmentor.create(backend, DType.F32, config, 0)) {
                Checkpoints.load(model, checkpoint, LoadOptions.strict().withSource(cl.getOptionValue("source")));
                model.train(false);
                System.out.printf("active select: %s, %s %s budget %s over %d round(s), radius %d, %d images of %s at %s, scale %dx%d%s, %s%n",
                                  config.name(), mode, regions ? "regions" : "pixels", budget.text(), rounds, radius, items.size(), kind, root,
                                  scale[0], scale[1], interpolation == PipelineConfig.Interpolation.BICUBIC ? " bicubic" : "", backend.describe());
                Pipeline pipe = SelectionRound.pipeline(scale[0], scale[1], interpolation);
                StringBuilder json = new StringBuilder("{\"checkpoint\": " + q(checkpoint.toString()) + ", \"mode\": " + q(mode) + ", \"budget\": "
                                                       + q(budget.text()) + ", \"rounds\": " + rounds + ", \"radius\": " + radius + ", \"images\": [\n");
                long t0 = System.nanoTime(), pixels = 0, total = 0;
                double predict = 0, acquire = 0;
                int activeRadius = regions ? radius : 0;
                for (int n = 0; n < items.size(); n++) {
                    Dataset.Item item = items.get(n);
                    String name = stem(item.image());
                    byte[] act = previous == null ? null : ActiveLabels.readMask(previous.resolve(name + "_active.png"));
                    byte[] sel = previous == null ? null : ActiveLabels.readMask(previous.resolve(name + ".png"));
                    SelectionRound.Image r = SelectionRound.select((EncoderDecoder) model, pipe, item, act, sel, regions, radius,
                                                                   (h, w) -> budget.picksPerRound(h, w, rounds, radius));
                    Images.writeLabelPng(out.resolve(name + ".png"), ActiveLabels.scaled(r.selected()), r.width(), r.height());
                    Images.writeLabelPng(out.resolve(name + "_active.png"), ActiveLabels.scaled(r.active()), r.width(), r.height());
                    json.append(n == 0 ? "" : ",\n").append("  {\"image\": ").append(q(item.image().toString())).append(", \"width\": ").append(r.width())
                        .append(", \"height\": ").append(r.height()).append(", \"regions\": [");
                    RegionSelector.Picks p = r.picks();
                    for (int j = 0; j < p.count(); j++) {
                        int y = p.h()[0][j], x = p.w()[0][j];
                        int top = Math.max(0, y - activeRadius), left = Math.max(0, x - activeRadius);
                        int bottom = Math.min(r.height(), y + activeRadius + 1), right = Math.min(r.width(), x + activeRadius + 1);
                        json.append(j == 0 ? "" : ", ").append(String.format(Locale.ROOT, "{\"y\": %d, \"x\": %d, \"box\": [%d, %d, %d, %d], \"score\": %.6g}",
                                                                             y, x, top, left, bottom - top, right - left, p.score()[0][j]));
                    }
                    json.append("]}");
                    predict += r.predictSeconds();
                    acquire += r.acquireSeconds();
                    for (byte b : r.selected()) total += b;
                    pixels += (long) r.width() * r.height();
                    if (!cl.hasOption("quiet") && (n + 1) % 10 == 0) System.err.printf("  %d/%d images%n", n + 1, items.size());
                }
                json.append("\n]}\n");
                AtomicFiles.writeString(out.resolve("regions.json"), json.toString());
                double secs = (System.nanoTime() - t0) / 1e9;
                int n = Math.max(1, items.size());
                System.out.printf(Locale.ROOT, "selected %d pixels to label (%.3f%% of %d), %d images in %.1f s (%.2f s per image: prediction %.2f s, "
                                               + "scores and selection %.2f s); masks and regions.json in %s%n",
                                  total, 100.0 * total / Math.max(1, pixels), pixels, items.size(), secs, secs / n, predict / n, acquire / n, out);
            }
            return 0;
        }
    }

    static final class Import implements Command {
        @Override public String name() { return "active import"; }

        @Override public String summary() { return "take annotations of selected regions back as train-id labels (255 outside)"; }

        @Override
        public int run(String[] args) throws Exception {
            Options opts = new Options()
                    .addOption(Option.builder().longOpt("selection").hasArg().argName("DIR").desc("the --out of hrda active select").build())
                    .addOption(Option.builder().longOpt("annotations").hasArg().argName("DIR")
                                       .desc("the annotated labels: <image name>.png with train ids (0-18) in the selected regions").build())
                    .addOption(Option.builder().longOpt("out").hasArg().argName("DIR").desc("where the labels go (<image name>.png)").build())
                    .addOption(Option.builder("h").longOpt("help").desc("this help").build());
            CommandLine cl = new DefaultParser().parse(opts, args);
            if (cl.hasOption("help") || !cl.hasOption("selection") || !cl.hasOption("annotations") || !cl.hasOption("out")) {
                new HelpFormatter().printHelp("hrda active import --selection DIR --annotations DIR --out DIR",
                                              "\nKeeps the annotations inside the selected regions (255 elsewhere) and checks them.\n\n", opts, "");
                return cl.hasOption("help") ? 0 : 2;
            }
            Path sel = Path.of(cl.getOptionValue("selection")), ann = Path.of(cl.getOptionValue("annotations")), out = Path.of(cl.getOptionValue("out"));
            List<Path> masks;
            try (var s = Files.list(sel)) {
                masks = s.filter(p -> p.toString().endsWith(".png") && !p.toString().endsWith("_active.png")).sorted().toList();
            } catch (IOException e) {
                throw new DataException(sel, "cannot list (" + e.getMessage() + ")", e);
            }
            if (masks.isEmpty()) throw new DataException(sel, "holds no selection masks (run hrda active select --out " + sel + ")");
            Files.createDirectories(out);
            long labelled = 0, unlabelled = 0;
            for (Path m : masks) {
                byte[] mask = ActiveLabels.readMask(m);
                Path a = ann.resolve(m.getFileName());
                if (!Files.isRegularFile(a)) throw new DataException(a, "is missing: " + m.getFileName() + " has regions to label");
                Png.Image sm = Png.read(m), ai = Png.read(a);
                if (ai.width() != sm.width() || ai.height() != sm.height()) {
                    throw new DataException(a, "is " + ai.width() + "x" + ai.height() + " but its selection " + m.getFileName() + " is " + sm.width() + "x" + sm.height());
                }
                if (ai.colorType() != Png.GRAY || ai.bitDepth() != 8) throw new DataException(a, "is not an 8-bit gray train-id label");
                byte[] label = new byte[mask.length];
                for (int i = 0; i < mask.length; i++) {
                    int v = ai.samples()[i];
                    if (mask[i] == 0) {
                        label[i] = (byte) 255;
                    } else {
                        label[i] = (byte) v;
                        if (v == 255) unlabelled++;
                        else labelled++;
                    }
                }
                LabelCheck.require(a, label);
                Images.writeLabelPng(out.resolve(m.getFileName()), label, sm.width(), sm.height());
            }
            System.out.printf("imported %d images: %d labelled pixels, %d selected but left unlabelled (255), labels in %s%n", masks.size(), labelled,
                              unlabelled, out);
            return 0;
        }
    }

    private static String stem(Path image) {
        return image.getFileName().toString().replaceFirst("\\.[^.]+$", "");
    }

    private static String q(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    private static int nonNegative(String option, String value) {
        try {
            int n = Integer.parseInt(value);
            if (n >= 0) return n;
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException(option + " must be a non-negative number, got '" + value + "'");
    }
}
