package dev.hrda.train;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.data.Dataset;
import dev.hrda.data.DatasetKind;
import dev.hrda.data.PipelineConfig;
import dev.hrda.data.SyntheticData;
import dev.hrda.data.UdaData;
import dev.hrda.io.TensorFile;
import dev.hrda.model.HrdaConfig;
import dev.hrda.model.MitConfig;
import dev.hrda.model.ModelConfig;
import dev.hrda.optim.AdamW;
import dev.hrda.optim.PolySchedule;
import dev.hrda.tensor.DType;
import dev.hrda.uda.DacsSettings;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A whole run on a small synthetic benchmark: the work dir's files, evaluation, and an interrupted run that resumes bit for bit. */
class TrainerTest {
    private static final Backend BE = new CpuBackend();
    @TempDir
    static Path data;
    static SyntheticData.Summary synth;

    @BeforeAll
    static void draw() {
        synth = SyntheticData.write(data, 3, 256, 128, 8, 2, true, false);
    }

    /** A tiny HRDA on mit_tiny with 19 classes: 128x128 crops, detail 64. */
    static ModelConfig model() {
        return ModelConfig.hrda("tiny_hrda19", MitConfig.named("mit_tiny"), 16, 19, HrdaConfig.defaults().withHrCrop(64));
    }

    static Trainer.Plan plan(Path work, int iters, int logEvery, int ckptEvery) {
        UdaData d = UdaData.open(DatasetKind.GTA, synth.gtaRoot(), PipelineConfig.source(256, 128, 128), DatasetKind.CITYSCAPES,
                                 synth.cityscapesRoot(), "train", PipelineConfig.target(256, 128, 128), null);
        Dataset val = Dataset.open(DatasetKind.CITYSCAPES, synth.cityscapesRoot(), "val", true);
        DacsSettings s = DacsSettings.hrda().withFeatureDistance(0, null).withPseudoThreshold(0.5)
                                     .withMic(new DacsSettings.Mic("separatetrgaug", 1, 0.7, 32));
        return new Trainer.Plan("synth_test", work, 42, model(), DType.F32, false, null, s, 6e-4, 0.9f, 0.999f, 0.01, 1e-8f,
                                List.of(new AdamW.Rule("head", 10, 1), new AdamW.Rule("norm", 1, 0)), new PolySchedule(iters, 1, 0, 2, 1e-6),
                                iters, d, 2, 1, List.of(new Trainer.ValSet("cityscapes", val, 256, 128)), logEvery, iters, ckptEvery, 2,
                                2, "seed: 42\n");
    }

    @Test
    void runWritesWhatMmsegWritesAndResumesBitForBit(@TempDir Path dir) throws IOException {
        Path whole = dir.resolve("whole"), split = dir.resolve("split");
        Trainer.Summary a = Trainer.run(BE, plan(whole, 4, 1, 2), new Trainer.Options(false, null, false, false, -1), null);
        assertEquals(4, a.iterations());
        assertTrue(Double.isFinite(a.metrics().get("cityscapes").mIoU()), "evaluated at the end");
        for (String f : List.of("iter_2.pth", "iter_4.pth", "latest.pth", "synth_test.yaml", "losses.png", "miou.png")) {
            assertTrue(Files.exists(whole.resolve(f)), f + " in " + list(whole));
        }
        assertTrue(Files.isSymbolicLink(whole.resolve("latest.pth")));
        assertEquals(whole.resolve("iter_4.pth").toRealPath(), whole.resolve("latest.pth").toRealPath());
        assertTrue(list(whole.resolve("debug")).contains("000001_0.png"), "debug images at iteration 1");
        TensorFile ck = TensorFile.read(whole.resolve("iter_4.pth"));
        assertEquals("4", ck.metadata().get("meta.iter"));
        assertTrue(ck.tensors().containsKey("model.decode_head.head.conv_seg.weight"));
        assertTrue(ck.tensors().containsKey("ema_model.decode_head.head.conv_seg.weight"));
        assertTrue(ck.otherTensors().containsKey("optimizer.state.0.exp_avg"));

        // the same run in two processes' worth of iterations: 2, then --resume from iter_2.pth to 4
        Trainer.run(BE, plan(split, 4, 1, 2), new Trainer.Options(false, null, false, false, 2), null);
        Files.delete(split.resolve("latest.pth"));  // as if killed right after iter_2.pth was renamed into place
        Trainer.run(BE, plan(split, 4, 1, 2), new Trainer.Options(true, null, false, false, -1), null);
        List<String> wholeTrain = trainLines(whole), splitTrain = trainLines(split);
        assertEquals(4, wholeTrain.size());
        assertEquals(wholeTrain, splitTrain, "resumed run logs the same losses, bit for bit (times aside)");
    }

    @Test
    void fullDiskAtSaveTimeLeavesTheLastCheckpointWhole(@TempDir Path dir) throws IOException {
        Path work = dir.resolve("w");
        Trainer.run(BE, plan(work, 4, 2, 2), new Trainer.Options(false, null, false, false, 2), null);
        byte[] before = Files.readAllBytes(work.resolve("iter_2.pth"));
        dev.hrda.data.AtomicFiles.injectFault(t -> t.getFileName().toString().equals("iter_4.pth")
                                                   ? new IOException("No space left on device") : null);
        try {
            dev.hrda.io.CheckpointException e = org.junit.jupiter.api.Assertions.assertThrows(dev.hrda.io.CheckpointException.class,
                () -> Trainer.run(BE, plan(work, 4, 2, 2), new Trainer.Options(true, null, false, false, -1), null));
            assertTrue(e.getMessage().contains("iter_4.pth") && e.getMessage().contains("No space left on device")
                       && e.getMessage().contains("iter_2.pth"), e.getMessage());
        } finally {
            dev.hrda.data.AtomicFiles.injectFault(null);
        }
        assertEquals(List.of("iter_2.pth", "latest.pth"), list(work).stream().filter(f -> f.contains(".pth")).toList(), "no temporary file left");
        org.junit.jupiter.api.Assertions.assertArrayEquals(before, Files.readAllBytes(work.resolve("latest.pth")));
    }

    /** The train records of every .log.json in a work dir, with the timing fields removed. */
    private static List<String> trainLines(Path dir) throws IOException {
        List<String> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path f : s.filter(x -> x.toString().endsWith(".log.json")).sorted().toList()) {
                for (String line : Files.readAllLines(f)) {
                    if (!line.contains("\"mode\": \"train\"")) continue;
                    out.add(line.replaceAll("\"[a-z_]*time\": [^,}]*(, )?", "").replaceAll("\"memory\": [^,}]*(, )?", ""));
                }
            }
        }
        return out;
    }

    private static List<String> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
