package dev.hrda.cli;

import dev.hrda.data.Dataset;
import dev.hrda.data.DatasetKind;
import dev.hrda.data.Images;
import dev.hrda.data.Json;
import dev.hrda.data.Png;
import dev.hrda.data.SyntheticData;
import dev.hrda.testing.Cli;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code hrda active select / import}: the regions to label of an unlabelled set, a second round beside the first, the annotations back. */
class ActiveCommandTest {
    @Test void selectWritesMasksAndRegionsAndImportKeepsTheirLabels(@TempDir Path dir) throws Exception {
        SyntheticData.Summary synth = SyntheticData.write(dir.resolve("data"), 2, 128, 64, 8, 1, true, false);
        Path ckpt = dir.resolve("m.pth"), out1 = dir.resolve("round1"), out2 = dir.resolve("round2");
        assertEquals(0, Cli.run("export", "--model", "tiny_deeplabv2", "--out", ckpt.toString()).status());
        String root = synth.cityscapesRoot().toString();
        Cli.Run r = Cli.run("active", "select", "--checkpoint", ckpt.toString(), "--model", "tiny_deeplabv2", "--data", "cityscapes", "--root", root,
                            "--budget", "2.2%", "--rounds", "2", "--scale", "128x64", "--device", "cpu", "-q", "--out", out1.toString());
        assertEquals(0, r.status(), r.out() + r.err());
        Dataset train = Dataset.open(DatasetKind.CITYSCAPES, synth.cityscapesRoot(), "train", false);
        String name = train.get(0).image().getFileName().toString().replaceFirst("\\.png$", "");
        Png.Image m = Png.read(out1.resolve(name + ".png"));
        assertEquals(128, m.width());
        assertEquals(64, m.height());
        Map<?, ?> json = (Map<?, ?>) Json.parse(Files.readString(out1.resolve("regions.json")));
        List<?> images = (List<?>) json.get("images");
        assertEquals(train.size(), images.size());
        List<?> regions = (List<?>) ((Map<?, ?>) images.get(0)).get("regions");
        // ceil(128*64 * (0.022 / 2) / 9) = 11 regions of 3x3 in this round
        assertEquals(11, regions.size());
        int marked = 0;
        for (int v : m.samples()) marked += v == 255 ? 1 : 0;
        int boxes = 0;
        for (Object o : regions) {
            List<?> box = (List<?>) ((Map<?, ?>) o).get("box");
            boxes += ((Number) box.get(2)).intValue() * ((Number) box.get(3)).intValue();
        }
        assertEquals(boxes, marked, "the mask is the union of the listed boxes, which never overlap");

        Cli.Run r2 = Cli.run("active", "select", "--checkpoint", ckpt.toString(), "--model", "tiny_deeplabv2", "--data", "cityscapes", "--root", root,
                             "--budget", "2.2%", "--rounds", "2", "--scale", "128x64", "--device", "cpu", "-q", "--previous", out1.toString(),
                             "--out", out2.toString());
        assertEquals(0, r2.status(), r2.out() + r2.err());
        Png.Image m2 = Png.read(out2.resolve(name + ".png"));
        int both = 0, second = 0;
        for (int i = 0; i < m2.samples().length; i++) {
            if (m2.samples()[i] == 255) second++;
            if (m.samples()[i] == 255 && m2.samples()[i] == 255) both++;
        }
        assertEquals(marked, both, "the second round keeps the first round's regions");
        assertTrue(second > marked, "and adds new ones");

        // a person labelled the second round's regions: the train ids stay inside the mask, 255 outside
        Path ann = dir.resolve("ann"), labels = dir.resolve("labels");
        Files.createDirectories(ann);
        for (Dataset.Item it : train.items()) {
            String n = it.image().getFileName().toString().replaceFirst("\\.png$", "");
            byte[] l = new byte[128 * 64];
            for (int i = 0; i < l.length; i++) l[i] = (byte) (i % 19);
            Images.writeLabelPng(ann.resolve(n + ".png"), l, 128, 64);
        }
        Cli.Run imp = Cli.run("active", "import", "--selection", out2.toString(), "--annotations", ann.toString(), "--out", labels.toString());
        assertEquals(0, imp.status(), imp.out() + imp.err());
        Png.Image lab = Png.read(labels.resolve(name + ".png"));
        for (int i = 0; i < lab.samples().length; i++) assertEquals(m2.samples()[i] == 255 ? i % 19 : 255, lab.samples()[i], "pixel " + i);

        Files.delete(ann.resolve(name + ".png"));
        Cli.Run missing = Cli.run("active", "import", "--selection", out2.toString(), "--annotations", ann.toString(), "--out", labels.toString());
        assertNotEquals(0, missing.status());
        assertTrue((missing.out() + missing.err()).contains(name + ".png") && (missing.out() + missing.err()).contains("is missing"),
                   missing.out() + missing.err());
        Cli.Run bad = Cli.run("active", "select", "--checkpoint", ckpt.toString(), "--model", "tiny_deeplabv2", "--data", "cityscapes", "--root", root,
                              "--budget", "2.2 percent", "--out", out1.toString());
        assertNotEquals(0, bad.status());
        assertTrue((bad.out() + bad.err()).contains("budget '2.2 percent'"), bad.out() + bad.err());
        java.nio.file.Path none = out1.resolveSibling("never_written");
        Cli.Run cubic = Cli.run("active", "select", "--checkpoint", ckpt.toString(), "--model", "tiny_deeplabv2", "--data", "cityscapes", "--root", root,
                                "--budget", "2.2%", "--interpolation", "cubic", "--out", none.toString());
        assertNotEquals(0, cubic.status());
        assertTrue((cubic.out() + cubic.err()).contains("--interpolation cubic: expected one of bilinear, bicubic"), cubic.out() + cubic.err());
        assertTrue(!java.nio.file.Files.exists(none), "a refused option writes nothing");
    }
}
