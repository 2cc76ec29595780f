package dev.hrda.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Each data set's original layout: images found, labels paired, statistics split. */
class LayoutTest {
    static final byte[] IMG = TestFiles.solidBgr(8, 4, 1, 2, 3);
    static final byte[] LBL = {0, 1, 2, 10, 13, 13, (byte) 255, 5, 0, 0, 0, 0, 2, 2, 2, 2, 8, 8, 8, 8, 10, 10, 10, 10, 0, 1, 2, 3, 4, 5, 6, 7};

    static void pair(Path img, Path lbl) throws Exception {
        TestFiles.writeColor(img, IMG, 8, 4);
        if (lbl != null) TestFiles.writeGray(lbl, LBL, 8, 4);
    }

    static void assertPairs(DatasetKind kind, Path root, String split, int n) {
        Dataset ds = Dataset.open(kind, root, split, true);
        assertEquals(n, ds.size(), kind + " " + split);
        DataCheck.Report r = DataCheck.check(kind, root, split, 1, false);
        assertTrue(r.ok(), r.problems().toString());
        assertEquals(n, r.labels());
    }

    @Test
    void acdcAsReleasedAndReorganised(@TempDir Path tmp) throws Exception {
        Path a = tmp.resolve("acdc");
        for (String cond : List.of("fog", "night")) {
            for (String split : List.of("train", "val")) {
                String f = cond + "_" + split + "_frame_000001";
                pair(a.resolve("rgb_anon/" + cond + "/" + split + "/GOPR01/" + f + "_rgb_anon.png"),
                     a.resolve("gt/" + cond + "/" + split + "/GOPR01/" + f + "_gt_labelTrainIds.png"));
            }
            // reference images of ACDC are not part of a split's images
            TestFiles.writeColor(a.resolve("rgb_anon/" + cond + "/train_ref/GOPR01/x_rgb_ref_anon.png"), IMG, 8, 4);
        }
        TestFiles.writeColor(a.resolve("rgb_anon/fog/test/GOPR02/t_rgb_anon.png"), IMG, 8, 4); // test split: no labels
        assertEquals(List.of("test", "train", "val"), DatasetKind.ACDC.layout().splits(a));
        assertPairs(DatasetKind.ACDC, a, "train", 2);
        assertPairs(DatasetKind.ACDC, a, "val", 2);
        assertEquals(1, Dataset.open(DatasetKind.ACDC, a, "test", false).size());
        DataCheck.Report all = DataCheck.check(DatasetKind.ACDC, a, null, 1, false);
        assertTrue(all.ok(), all.problems().toString());
        assertTrue(all.notes().stream().anyMatch(n -> n.contains("'test'") && n.contains("no labels")), all.notes().toString());

        // HRDA's reorganisation: rgb_anon/train/*, gt/train/*
        Path r = tmp.resolve("acdc2");
        pair(r.resolve("rgb_anon/train/a_rgb_anon.png"), r.resolve("gt/train/a_gt_labelTrainIds.png"));
        pair(r.resolve("rgb_anon/train/b_rgb_anon.png"), r.resolve("gt/train/b_gt_labelTrainIds.png"));
        pair(r.resolve("rgb_anon/val/c_rgb_anon.png"), r.resolve("gt/val/c_gt_labelTrainIds.png"));
        assertPairs(DatasetKind.ACDC, r, "train", 2);
        Converter.Report cr = Converter.convert(DatasetKind.ACDC, r, new Converter.Options(1, true, false));
        assertTrue(cr.ok(), cr.errors().toString());
        assertEquals(2, RareClassStats.read(r).files().size());
    }

    @Test
    void darkZurichNightOnlyTraining(@TempDir Path tmp) throws Exception {
        Path d = tmp.resolve("dark_zurich");
        for (String cond : List.of("day", "night", "twilight")) {
            TestFiles.writeColor(d.resolve("rgb_anon/train/" + cond + "/GOPR0001/" + cond + "_000001_rgb_anon.png"), IMG, 8, 4);
        }
        pair(d.resolve("rgb_anon/val/night/GOPR0356/GOPR0356_000001_rgb_anon.png"),
             d.resolve("gt/val/night/GOPR0356/GOPR0356_000001_gt_labelTrainIds.png"));
        assertEquals(1, Dataset.open(DatasetKind.DARK_ZURICH, d, "train/night", false).size());
        assertEquals(3, Dataset.open(DatasetKind.DARK_ZURICH, d, "train", false).size());
        assertPairs(DatasetKind.DARK_ZURICH, d, "val", 1);
        assertTrue(DataCheck.check(DatasetKind.DARK_ZURICH, d, null, 1, false).ok());
    }

    @Test
    void bdd100kAndCityscapesAndGta(@TempDir Path tmp) throws Exception {
        Path b = tmp.resolve("bdd100k");
        pair(b.resolve("images/10k/val/7d06fefd-f7be05a6.jpg"), b.resolve("labels/sem_seg/masks/val/7d06fefd-f7be05a6.png"));
        assertPairs(DatasetKind.BDD100K, b, "val", 1);

        Path c = tmp.resolve("cityscapes");
        pair(c.resolve("leftImg8bit/val/lindau/lindau_000000_000019_leftImg8bit.png"),
             c.resolve("gtFine/val/lindau/lindau_000000_000019_gtFine_labelTrainIds.png"));
        assertPairs(DatasetKind.CITYSCAPES, c, "val", 1);

        Path g = tmp.resolve("gta");
        pair(g.resolve("images/00001.png"), g.resolve("labels/00001_labelTrainIds.png"));
        assertPairs(DatasetKind.GTA, g, "all", 1);
    }
}
