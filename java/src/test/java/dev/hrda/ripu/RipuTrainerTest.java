package dev.hrda.ripu;

import dev.hrda.active.Budget;
import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.data.Dataset;
import dev.hrda.data.DatasetKind;
import dev.hrda.data.PipelineConfig;
import dev.hrda.data.SyntheticData;
import dev.hrda.data.UdaData;
import dev.hrda.model.MitConfig;
import dev.hrda.model.ModelConfig;
import dev.hrda.optim.AdamW;
import dev.hrda.optim.PolySchedule;
import dev.hrda.tensor.DType;
import dev.hrda.train.Trainer;
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

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * RIPU runs on a small synthetic benchmark: the acquisition rounds label exactly the budget, the
 * acquired labels reach the target batches (the target CE appears after the first round), and an
 * interrupted run resumes bit for bit with the labels read back from the work dir.
 */
class RipuTrainerTest {
    private static final Backend BE = new CpuBackend();
    @TempDir
    static Path data;
    static SyntheticData.Summary synth;

    @BeforeAll
    static void draw() {
        synth = SyntheticData.write(data, 5, 128, 64, 8, 2, true, false);
    }

    static Trainer.Plan plan(Path work, int iters, RipuSettings ripu) {
        return plan(work, iters, ripu, Double.NaN);
    }

    /** momentum: SGD (RIPU's optimizer, lr 2.5e-3 here so that 4 steps move the weights), NaN: AdamW. */
    static Trainer.Plan plan(Path work, int iters, RipuSettings ripu, double momentum) {
        UdaData d = UdaData.open(DatasetKind.GTA, synth.gtaRoot(), PipelineConfig.source(128, 64, 64), DatasetKind.CITYSCAPES,
                                 synth.cityscapesRoot(), "train", PipelineConfig.target(128, 64, 64).withLabel(true).withValidMargins(null), null);
        Dataset val = Dataset.open(DatasetKind.CITYSCAPES, synth.cityscapesRoot(), "val", true);
        DacsSettings s = DacsSettings.hrda().withFeatureDistance(0, null).asSourceOnly();
        ModelConfig model = ModelConfig.daformer("tiny_daformer19", MitConfig.named("mit_tiny"), 16, 19);
        return new Trainer.Plan("ripu_test", work, 7, model, DType.F32, false, null, s, Double.isNaN(momentum) ? 6e-4 : 2.5e-3, 0.9f, 0.999f,
                                Double.isNaN(momentum) ? 0.01 : 5e-4, 1e-8f,
                                List.of(new AdamW.Rule("head", 10, 1)), new PolySchedule(iters, 1, 0, 0, 1), iters, d, 2, 1,
                                List.of(new Trainer.ValSet("cityscapes", val, 128, 64)), 1, iters, 2, 3, 0, "seed: 7\n", ripu, momentum);
    }

    static RipuSettings ra() {
        return new RipuSettings(Budget.parse("2.2%"), new int[] {1, 3}, 1, 0.1, 1.0, 0.05, 128, 64, false);
    }

    @Test
    void roundsLabelTheBudgetAndAResumedRunContinuesBitForBit(@TempDir Path dir) throws IOException {
        Path whole = dir.resolve("whole"), split = dir.resolve("split");
        Trainer.run(BE, plan(whole, 4, ra()), new Trainer.Options(false, null, false, false, -1), null);
        Dataset target = Dataset.open(DatasetKind.CITYSCAPES, synth.cityscapesRoot(), "train", true);
        ActiveLabels a = ActiveLabels.open(whole, target);
        assertEquals(2, a.roundsDone());
        // 128x64 frames: ceil(8192 * 0.011 / 9) = 11 regions of 3x3 per round; clipped at the border, never overlapping
        int picks = ra().picksPerRound(64, 128);
        assertEquals(11, picks);
        for (int i = 0; i < target.size(); i++) {
            byte[] sel = a.selected(i), act = a.active(i);
            int n = 0, active = 0;
            for (int p = 0; p < sel.length; p++) {
                n += sel[p];
                active += act[p];
                if (sel[p] == 1) assertEquals(1, act[p], "a labelled pixel is suppressed too");
            }
            assertTrue(n <= 2 * picks * 9 && n >= 2 * picks * 4, "image " + i + ": " + n + " labelled pixels for 2 x 11 regions");
            assertTrue(active > n, "suppression windows (5x5) are larger than the regions");
        }
        List<String> lines = logLines(whole, "\"mode\": \"train\"");
        assertEquals(4, lines.size());
        assertTrue(!lines.get(0).contains("tgt.loss_seg"), "no target label before the first round: " + lines.get(0));
        assertTrue(lines.get(1).contains("tgt.loss_seg"), "the acquired labels reach the next batches: " + lines.get(1));
        assertEquals(2, logLines(whole, "\"mode\": \"active\"").size());

        // interrupted after 2 iterations (one round done), resumed to 4
        Trainer.run(BE, plan(split, 4, ra()), new Trainer.Options(false, null, false, false, 2), null);
        Trainer.run(BE, plan(split, 4, ra()), new Trainer.Options(true, null, false, false, -1), null);
        assertEquals(strip(logLines(whole, "\"mode\": \"train\"")), strip(logLines(split, "\"mode\": \"train\"")),
                     "the resumed run logs the same losses, bit for bit");
        ActiveLabels b = ActiveLabels.open(split, target);
        for (int i = 0; i < target.size(); i++) {
            assertArrayEquals(a.selected(i), b.selected(i), "image " + i);
            assertArrayEquals(a.active(i), b.active(i), "image " + i);
        }

        // a work dir whose labels do not match its checkpoint is refused, naming what is wrong
        Files.delete(split.resolve(ActiveLabels.DIR).resolve(ActiveLabels.ROUNDS));
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Trainer.run(BE, plan(split, 6, ra()), new Trainer.Options(true, null, false, false, -1), null));
        assertTrue(e.getMessage().contains("holds the labels of 0 acquisition round(s)"), e.getMessage());
        e = assertThrows(IllegalStateException.class,
                () -> Trainer.run(BE, plan(whole, 4, ra()), new Trainer.Options(false, null, false, false, -1), null));
        assertTrue(e.getMessage().contains("this run starts afresh"), e.getMessage());
    }

    /** RIPU's own optimizer: SGD with momentum; its momentum buffers go into the checkpoint and a resumed run continues bit for bit. */
    @Test
    void sgdRunResumesBitForBit(@TempDir Path dir) throws IOException {
        Path whole = dir.resolve("whole"), split = dir.resolve("split");
        Trainer.run(BE, plan(whole, 4, ra(), 0.9), new Trainer.Options(false, null, false, false, -1), null);
        Trainer.run(BE, plan(split, 4, ra(), 0.9), new Trainer.Options(false, null, false, false, 2), null);
        Trainer.run(BE, plan(split, 4, ra(), 0.9), new Trainer.Options(true, null, false, false, -1), null);
        List<String> a = strip(logLines(whole, "\"mode\": \"train\"")), b = strip(logLines(split, "\"mode\": \"train\""));
        assertEquals(4, a.size());
        assertEquals(a, b, "the resumed SGD run logs the same losses, bit for bit");
        assertTrue(dev.hrda.io.TensorFile.read(whole.resolve("iter_4.pth")).otherTensors().containsKey("optimizer.state.0.momentum_buffer"),
                   "torch's SGD state layout");
    }

    private static List<String> strip(List<String> lines) {
        List<String> out = new ArrayList<>();
        for (String l : lines) out.add(l.replaceAll("\"[a-z_]*time\": [^,}]*(, )?", "").replaceAll("\"memory\": [^,}]*(, )?", ""));
        return out;
    }

    private static List<String> logLines(Path dir, String mode) throws IOException {
        List<String> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path f : s.filter(x -> x.toString().endsWith(".log.json")).sorted().toList()) {
                for (String line : Files.readAllLines(f)) if (line.contains(mode)) out.add(line);
            }
        }
        return out;
    }
}
