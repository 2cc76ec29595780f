package dev.hrda.data;

import org.bytedeco.opencv.opencv_core.Mat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The real Cityscapes / ACDC / Mapillary samples in ../shared/fixtures (read only). */
class FixturesTest {
    static final Path F = TestFiles.fixtures();
    static final Path FRANKFURT = F.resolve("cityscapes/gtFine/val/frankfurt");
    static final String STEM = "frankfurt_000000_000294_gtFine_";

    @Test
    void cityscapesLabelIdsToTrainIdsAgreeWithItsLabelTrainIds() {
        Images.LabelIds ids = Images.readLabelIds(FRANKFURT.resolve(STEM + "labelIds.png"), Images.Channel.SINGLE);
        assertEquals(256, ids.width());
        assertEquals(128, ids.height());
        byte[] mapped = LabelMaps.CITYSCAPES.apply(ids.ids()).trainIds();
        byte[] given;
        try (Mat m = Images.readLabel(FRANKFURT.resolve(STEM + "labelTrainIds.png"))) {
            given = Images.toBytes(m);
        }
        int same = 0;
        for (int i = 0; i < mapped.length; i++) if (mapped[i] == given[i]) same++;
        double agree = same / (double) mapped.length;
        assertTrue(agree >= 0.995, "agreement " + agree);
        assertTrue(agree < 1.0, "the fixture's provenance says 77 boundary pixels differ");
        assertEquals(mapped.length - 77, same);
    }

    @Test
    void cityscapesInstanceIdsRead16Bit() {
        Images.LabelIds inst = Images.readLabelIds(FRANKFURT.resolve(STEM + "instanceIds.png"), Images.Channel.SINGLE);
        Images.LabelIds ids = Images.readLabelIds(FRANKFURT.resolve(STEM + "labelIds.png"), Images.Channel.SINGLE);
        TreeMap<Integer, Integer> instances = new TreeMap<>();
        for (int i = 0; i < inst.ids().length; i++) {
            int v = inst.ids()[i];
            int labelId = v >= 1000 ? v / 1000 : v;
            assertEquals(ids.ids()[i], labelId, "pixel " + i);
            if (v >= 1000) instances.merge(v, 1, Integer::sum);
        }
        assertEquals(java.util.Set.of(24000, 24001, 24002, 24003, 26000, 26001, 26002), instances.keySet());
        assertEquals(1572, instances.get(26002));
    }

    @Test
    void acdcLabelsAreRefusedByDefaultAndInRangeWhenIgnored() {
        Dataset ds = Dataset.open(DatasetKind.ACDC, F.resolve("acdc"), "train", true);
        assertEquals(4, ds.size());
        assertEquals(java.util.List.of("fog", "night", "rain", "snow"),
                     ds.items().stream().map(i -> F.resolve("acdc/rgb_anon").relativize(i.image()).getName(0).toString()).toList());
        Pipeline strict = new Pipeline(PipelineConfig.target(1920, 1080, 512).withLabel(true));
        DataException e = assertThrows(DataException.class, () -> strict.load(ds.get(0), new SplittableRandom(0)));
        assertTrue(e.getMessage().contains("GOPR0475_frame_000049_gt_labelTrainIds.png"), e.getMessage());
        assertTrue(e.getMessage().matches("(?s).*\\d+ pixels \\(0\\.2\\d%\\) with values outside 0-18 and 255.*"), e.getMessage());

        Pipeline lenient = new Pipeline(PipelineConfig.target(1920, 1080, 512).withLabel(true)
                                                      .withInvalidLabels(PipelineConfig.InvalidLabels.IGNORE));
        for (Dataset.Item it : ds.items()) {
            Sample s = lenient.load(it, new SplittableRandom(1));
            assertEquals(512, s.height());
            assertEquals(512 * 512, s.label().length);
            for (byte b : s.label()) assertTrue(LabelMaps.isValidTrainId(b & 0xFF));
            assertTrue(s.count(LabelMaps.ROAD) + s.count(LabelMaps.SKY) + s.count(LabelMaps.BUILDING)
                       + s.count(LabelMaps.VEGETATION) > 0);
        }
    }

    @Test
    void mapillaryV12PaletteLabelsMapToCityscapes() {
        Path lbl = F.resolve("mapillary/training/v1.2/labels/__CRyFzoDOXn6unQ6a3DnQ.png");
        assertTrue(Images.pngHeader(lbl).palette());
        Images.LabelIds ids = Images.readLabelIds(lbl, Images.Channel.SINGLE);
        LabelMap.Result r = LabelMaps.MAPILLARY_V12.apply(ids.ids());
        long[] c = RareClassStats.count(r.trainIds());
        assertEquals(9157, c[LabelMaps.BUILDING]);      // 17 building
        assertEquals(112, c[LabelMaps.POLE]);           // 45 pole
        assertEquals(731, r.ignored());                 // 44 street light: no Cityscapes class
        assertEquals(0, r.unknown());
    }

    @Test
    void mapillaryConvertedCopyLoadsWithLabelsInRange(@TempDir Path tmp) throws Exception {
        Path root = TestFiles.copyTree(F.resolve("mapillary"), tmp.resolve("mapillary"));
        Converter.Report r = Converter.convert(DatasetKind.MAPILLARY, root, new Converter.Options(1, false, false));
        assertTrue(r.ok(), r.errors().toString());
        assertEquals(1, r.written());
        assertEquals(731, r.ignoredPixels());
        Dataset ds = Dataset.open(DatasetKind.MAPILLARY, root, "training", true);
        assertEquals(1, ds.size());
        assertTrue(ds.get(0).label().toString().endsWith("v1.2/labels/__CRyFzoDOXn6unQ6a3DnQ_labelTrainIds.png"));
        Sample s = new Pipeline(PipelineConfig.test(2048, 1024)).load(ds.get(0), new SplittableRandom(0));
        assertEquals(100 * 100, s.label().length);
        for (byte b : s.label()) assertTrue(LabelMaps.isValidTrainId(b & 0xFF));
        assertEquals(9157, s.count(LabelMaps.BUILDING));
        // the original v1.2 and v2.0 files are untouched
        assertEquals(TestFiles.sha256(F.resolve("mapillary/training/v1.2/labels/__CRyFzoDOXn6unQ6a3DnQ.png")),
                     TestFiles.sha256(root.resolve("training/v1.2/labels/__CRyFzoDOXn6unQ6a3DnQ.png")));
    }

    @Test
    void zurichTrainIdLabelIsRefusedWithNameAndCount() {
        Dataset ds = Dataset.open(DatasetKind.CITYSCAPES, F.resolve("cityscapes"), "train", true);
        assertEquals(1, ds.size());
        Path label = ds.get(0).label();
        byte[] b;
        try (Mat m = Images.readLabel(label)) {
            b = Images.toBytes(m);
        }
        long bad = LabelCheck.countInvalid(b);
        assertEquals(0.0117, bad / (double) b.length, 0.0005);
        Pipeline p = new Pipeline(PipelineConfig.source(1024, 512, 512));
        DataException e = assertThrows(DataException.class, () -> p.load(ds.get(0), new SplittableRandom(0)));
        assertEquals(label, e.path());
        assertTrue(e.getMessage().contains("zurich_000087_000019_gtFine_labelTrainIds.png"), e.getMessage());
        assertTrue(e.getMessage().contains(bad + " pixels"), e.getMessage());
    }

    @Test
    void dataCheckReportsTheZurichLabelOnly() {
        DataCheck.Report r = DataCheck.check(DatasetKind.CITYSCAPES, F.resolve("cityscapes"), null, 2, false);
        assertEquals(2, r.images());
        assertEquals(1, r.problems().size(), r.problems().toString());
        DataCheck.Problem p = r.problems().get(0);
        assertTrue(p.file().toString().endsWith("zurich_000087_000019_gtFine_labelTrainIds.png"));
        assertTrue(p.what().contains("out of range"), p.what());
        assertFalse(r.ok());
    }

    @Test
    void cityscapesConversionOfACopyReproducesTheFrame(@TempDir Path tmp) throws Exception {
        Path root = TestFiles.copyTree(F.resolve("cityscapes"), tmp.resolve("cityscapes"));
        Files.delete(root.resolve("gtFine/train/zurich/zurich_000087_000019_gtFine_labelTrainIds.png"));
        Files.delete(root.resolve("leftImg8bit/train/zurich/zurich_000087_000019_leftImg8bit.png"));
        Converter.Report r = Converter.convert(DatasetKind.CITYSCAPES, root, new Converter.Options(2, true, false));
        assertTrue(r.ok(), r.errors().toString());
        assertEquals(1, r.written());
        // labelIds has void classes (1..4 ego/rectification/out of roi/static, ...) that become 255; none unknown
        assertEquals(0, r.unknownPixels());
        assertTrue(r.ignoredPixels() > 0);
        try (Mat m = Images.readLabel(root.resolve("gtFine/val/frankfurt/" + STEM + "labelTrainIds.png"))) {
            byte[] b = Images.toBytes(m);
            Images.LabelIds ids = Images.readLabelIds(FRANKFURT.resolve(STEM + "labelIds.png"), Images.Channel.SINGLE);
            assertTrue(java.util.Arrays.equals(LabelMaps.CITYSCAPES.apply(ids.ids()).trainIds(), b));
        }
        // no train split left: no statistics, said so
        assertFalse(RareClassStats.exists(root));
        assertTrue(r.notes().stream().anyMatch(n -> n.contains("no labelled images")), r.notes().toString());
    }
}
