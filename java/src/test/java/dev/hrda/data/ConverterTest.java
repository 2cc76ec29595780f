package dev.hrda.data;

import org.bytedeco.opencv.opencv_core.Mat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.bytedeco.opencv.global.opencv_core.CV_16UC3;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imwrite;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConverterTest {
    static final Converter.Options OPT = new Converter.Options(2, false, false);

    /** A small GTA-style set (synthetic scenes, label ids unconverted). */
    static Path gtaSet(Path dir, int n) {
        SyntheticData.write(dir, 5, 96, 48, n, 2, false, false);
        return dir.resolve("gta");
    }

    static byte[] labelBytes(Path p) {
        try (Mat m = Images.readLabel(p)) {
            return Images.toBytes(m);
        }
    }

    @Test
    void convertsLabelIdsAndWritesStatisticsEqualToADirectCount(@TempDir Path tmp) throws Exception {
        Path root = gtaSet(tmp, 6);
        Map<Path, String> rawHashes = new HashMap<>();
        for (Path raw : DatasetKind.GTA.layout().rawLabels(root)) rawHashes.put(raw, TestFiles.sha256(raw));
        for (Path img : DatasetKind.GTA.layout().images(root, "all")) rawHashes.put(img, TestFiles.sha256(img));
        assertEquals(12, rawHashes.size());

        Converter.Report r = Converter.convert(DatasetKind.GTA, root, OPT);
        assertTrue(r.ok(), r.errors().toString());
        assertEquals(6, r.rawLabels());
        assertEquals(6, r.written());
        assertEquals(6, r.statsFiles());

        // train ids = the map applied to the raw ids, file by file
        List<RareClassStats.FileStats> direct = new ArrayList<>();
        for (Path raw : DatasetKind.GTA.layout().rawLabels(root)) {
            Path out = DatasetKind.GTA.layout().trainIdFor(raw);
            assertTrue(out.getFileName().toString().endsWith("_labelTrainIds.png"));
            byte[] expect = LabelMaps.GTA.apply(Images.readLabelIds(raw, Images.Channel.SINGLE).ids()).trainIds();
            byte[] got = labelBytes(out);
            assertArrayEquals(expect, got, out.toString());
            long[] c = new long[19];
            for (byte b : got) if ((b & 0xFF) < 19) c[b & 0xFF]++;
            direct.add(new RareClassStats.FileStats(root + "/labels/" + out.getFileName(), c));
        }
        RareClassStats read = RareClassStats.read(root);
        assertEquals(direct.size(), read.files().size());
        for (int i = 0; i < direct.size(); i++) {
            assertEquals(direct.get(i).file(), read.files().get(i).file());
            assertArrayEquals(direct.get(i).counts(), read.files().get(i).counts(), direct.get(i).file());
        }
        // samples_with_class agrees with the per-file counts
        for (Map.Entry<Integer, List<RareClassStats.FileCount>> e : read.samplesWithClass().entrySet()) {
            for (RareClassStats.FileCount fc : e.getValue()) {
                RareClassStats.FileStats fs = read.files().stream().filter(f -> f.file().equals(fc.file())).findFirst().orElseThrow();
                assertEquals(fs.counts()[e.getKey()], fc.pixels());
            }
        }
        assertTrue(Files.isRegularFile(root.resolve(RareClassStats.SAMPLE_CLASS_STATS_DICT)));

        // raw files untouched, no temporary files left
        for (Map.Entry<Path, String> e : rawHashes.entrySet()) assertEquals(e.getValue(), TestFiles.sha256(e.getKey()));
        assertEquals(List.of(), TestFiles.tempFiles(tmp));

        // idempotent: a second run keeps everything and writes identical statistics
        String json = Files.readString(root.resolve(RareClassStats.SAMPLES_WITH_CLASS));
        String labelHash = TestFiles.sha256(DatasetKind.GTA.layout().trainIdFor(DatasetKind.GTA.layout().rawLabels(root).get(0)));
        Converter.Report r2 = Converter.convert(DatasetKind.GTA, root, OPT);
        assertTrue(r2.ok());
        assertEquals(0, r2.written());
        assertEquals(6, r2.kept());
        assertEquals(json, Files.readString(root.resolve(RareClassStats.SAMPLES_WITH_CLASS)));
        assertEquals(labelHash, TestFiles.sha256(DatasetKind.GTA.layout().trainIdFor(DatasetKind.GTA.layout().rawLabels(root).get(0))));
        // --force rewrites the same content
        Converter.Report r3 = Converter.convert(DatasetKind.GTA, root, new Converter.Options(1, true, false));
        assertEquals(6, r3.written());
        assertEquals(json, Files.readString(root.resolve(RareClassStats.SAMPLES_WITH_CLASS)));
    }

    @Test
    void statisticsFileFormatMatchesTheOriginals(@TempDir Path tmp) throws Exception {
        Path root = tmp.resolve("gta");
        byte[] img = TestFiles.solidBgr(4, 2, 10, 20, 30);
        TestFiles.writeColor(root.resolve("images/00001.png"), img, 4, 2);
        TestFiles.writeGray(root.resolve("labels/00001.png"), new byte[] {7, 7, 7, 26, 26, 0, (byte) 200, 24}, 4, 2);
        Converter.Report r = Converter.convert(DatasetKind.GTA, root, OPT);
        assertTrue(r.ok());
        String name = root + "/labels/00001_labelTrainIds.png";
        String q = "\"" + name + "\"";
        assertEquals("[\n  {\n    \"0\": 3,\n    \"11\": 1,\n    \"13\": 2,\n    \"file\": " + q + "\n  }\n]",
                     Files.readString(root.resolve(RareClassStats.SAMPLE_CLASS_STATS)));
        assertEquals("{\n  " + q + ": {\n    \"0\": 3,\n    \"11\": 1,\n    \"13\": 2\n  }\n}",
                     Files.readString(root.resolve(RareClassStats.SAMPLE_CLASS_STATS_DICT)));
        assertEquals("{\n  \"0\": [\n    [\n      " + q + ",\n      3\n    ]\n  ],\n  \"11\": [\n    [\n      " + q
                     + ",\n      1\n    ]\n  ],\n  \"13\": [\n    [\n      " + q + ",\n      2\n    ]\n  ]\n}",
                     Files.readString(root.resolve(RareClassStats.SAMPLES_WITH_CLASS)));
    }

    @Test
    void readsStatisticsWrittenByTheOriginalPythonTools(@TempDir Path tmp) throws Exception {
        // json.dump(..., indent=2) of the DAFormer/HRDA converters (file key last; class keys as strings)
        Files.writeString(tmp.resolve(RareClassStats.SAMPLE_CLASS_STATS), """
                [
                  {
                    "0": 1000,
                    "13": 5000,
                    "file": "data/gta/labels/00001_labelTrainIds.png"
                  },
                  {
                    "5": 4000,
                    "file": "data/gta/labels/00002_labelTrainIds.png"
                  }
                ]""");
        Files.writeString(tmp.resolve(RareClassStats.SAMPLES_WITH_CLASS), """
                {"0": [["data/gta/labels/00001_labelTrainIds.png", 1000]],
                 "13": [["data/gta/labels/00001_labelTrainIds.png", 5000]],
                 "5": [["data/gta/labels/00002_labelTrainIds.png", 4000]]}""");
        RareClassStats s = RareClassStats.read(tmp);
        assertEquals(2, s.files().size());
        assertEquals(5000, s.files().get(0).counts()[13]);
        assertEquals(4000, s.totals()[5]);
        assertEquals(List.of(new RareClassStats.FileCount("data/gta/labels/00002_labelTrainIds.png", 4000)),
                     s.samplesWithClass().get(5));
        RareClassSampler rcs = new RareClassSampler(s, 0.01, 3000, 2.0);
        assertEquals(List.of("00001_labelTrainIds.png"), rcs.filesWith(13));
        assertEquals(List.of(0), rcs.dropped()); // no file with more than 3000 road pixels
    }

    @Test
    void unknownIdsBecomeIgnoreAndAreCounted(@TempDir Path tmp) throws Exception {
        Path root = tmp.resolve("gta");
        TestFiles.writeColor(root.resolve("images/00001.png"), TestFiles.solidBgr(5, 2, 1, 2, 3), 5, 2);
        // 7 road, 0 unlabeled (void), 34 and 250 unknown to the 0..33 definition
        TestFiles.writeGray(root.resolve("labels/00001.png"), new byte[] {7, 0, 34, (byte) 250, 7, 7, 26, 0, 34, 33}, 5, 2);
        Converter.Report r = Converter.convert(DatasetKind.GTA, root, OPT);
        assertTrue(r.ok());
        assertEquals(5, r.ignoredPixels());
        assertEquals(3, r.unknownPixels());
        byte[] out = labelBytes(root.resolve("labels/00001_labelTrainIds.png"));
        assertArrayEquals(new byte[] {0, (byte) 255, (byte) 255, (byte) 255, 0, 0, 13, (byte) 255, (byte) 255, 18}, out);
    }

    @Test
    void synthiaSixteenBitLabelsUseTheClassChannel(@TempDir Path tmp) throws Exception {
        Path root = tmp.resolve("synthia");
        TestFiles.writeColor(root.resolve("RGB/0000001.png"), TestFiles.solidBgr(4, 1, 1, 2, 3), 4, 1);
        Files.createDirectories(root.resolve("GT/LABELS"));
        // OpenCV order B, G, R; the class id is in R (the first PNG channel), instance ids elsewhere
        int[] cls = {3, 10, 16, 22};
        try (Mat m = new Mat(1, 4, CV_16UC3)) {
            byte[] raw = new byte[4 * 3 * 2];
            for (int i = 0; i < 4; i++) {
                int[] ch = {0, 300 + i, cls[i]};
                for (int c = 0; c < 3; c++) {
                    raw[(i * 3 + c) * 2] = (byte) ch[c];
                    raw[(i * 3 + c) * 2 + 1] = (byte) (ch[c] >> 8);
                }
            }
            Images.put(m, raw);
            assertTrue(imwrite(root.resolve("GT/LABELS/0000001.png").toString(), m));
        }
        Converter.Report r = Converter.convert(DatasetKind.SYNTHIA, root, OPT);
        assertTrue(r.ok(), r.errors().toString());
        // 3 road -> 0, 10 pedestrian -> 11, 16 terrain -> 9 (never present in real Synthia), 22 lanemarking -> 255
        assertArrayEquals(new byte[] {0, 11, 9, (byte) 255}, labelBytes(root.resolve("GT/LABELS/0000001_labelTrainIds.png")));
        assertEquals(16, LabelMaps.SYNTHIA_CLASSES.length);
    }

    @Test
    void corruptRawLabelIsReportedAndNothingHalfWritten(@TempDir Path tmp) throws Exception {
        Path root = gtaSet(tmp, 3);
        Path bad = root.resolve("labels/00002.png");
        TestFiles.truncate(bad, (int) (Files.size(bad) / 2));
        Converter.Report r = Converter.convert(DatasetKind.GTA, root, OPT);
        assertFalse(r.ok());
        assertTrue(r.errors().stream().anyMatch(e -> e.contains(bad.toString()) && e.contains("truncated")), r.errors().toString());
        assertFalse(Files.exists(root.resolve("labels/00002_labelTrainIds.png")));
        assertTrue(Files.exists(root.resolve("labels/00001_labelTrainIds.png")));
        assertFalse(RareClassStats.exists(root), "statistics must not be written from an incomplete set");
        assertEquals(List.of(), TestFiles.tempFiles(tmp));
    }

    @Test
    void atomicWriteLeavesNothingWhenTheWriterFails(@TempDir Path tmp) {
        Path target = tmp.resolve("x.png");
        DataException e = assertThrows(DataException.class, () -> AtomicFiles.write(target, p -> {
            Files.writeString(p, "half");
            throw new java.io.IOException("disk full");
        }));
        assertTrue(e.getMessage().contains("x.png") && e.getMessage().contains("disk full"), e.getMessage());
        assertFalse(Files.exists(target));
        assertEquals(0, tmp.toFile().list().length);
    }

    @Test
    void missingOrEmptyRootIsNamed(@TempDir Path tmp) throws Exception {
        Path missing = tmp.resolve("nope");
        DataException e1 = assertThrows(DataException.class, () -> Converter.convert(DatasetKind.GTA, missing, OPT));
        assertEquals(missing, e1.path());
        assertTrue(e1.getMessage().contains("does not exist"));
        Path empty = Files.createDirectory(tmp.resolve("empty"));
        DataException e2 = assertThrows(DataException.class, () -> Dataset.open(DatasetKind.CITYSCAPES, empty, "train", true));
        assertEquals(empty, e2.path());
        assertTrue(e2.getMessage().contains("empty"));
        Files.createDirectory(tmp.resolve("wrong")).resolve("x");
        Files.writeString(tmp.resolve("wrong/readme.txt"), "hi");
        DataException e3 = assertThrows(DataException.class, () -> DataCheck.check(DatasetKind.CITYSCAPES, tmp.resolve("wrong"), null, 1, false));
        assertEquals(tmp.resolve("wrong/leftImg8bit"), e3.path());
    }

    @Test
    void missingStatisticsAreComputedBeforeTraining(@TempDir Path tmp) throws Exception {
        Path root = gtaSet(tmp, 4);
        assertFalse(RareClassStats.exists(root));
        RareClassStats s = Converter.ensureStats(DatasetKind.GTA, root, 2);
        assertTrue(RareClassStats.exists(root));
        assertEquals(4, s.files().size());
        assertTrue(Files.exists(root.resolve("labels/00004_labelTrainIds.png")));
        long total = 0;
        for (long c : s.totals()) total += c;
        assertTrue(total > 0.9 * 4 * 96 * 48, "most pixels belong to a class: " + total);
    }
}
