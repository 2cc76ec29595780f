package dev.hrda.cli;

import dev.hrda.config.TrainConfig;
import dev.hrda.data.ClassBalancedSampler;
import dev.hrda.data.PipelineConfig;
import dev.hrda.data.SyntheticData;
import dev.hrda.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

/** RIPU's data settings reach the trainer's plan: the class-balanced source order, bicubic evaluation and selection resizing. */
class RipuDataPlanTest {
    @Test
    void classBalancedOrderAndBicubicTestResizeReachThePlan(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("synth");
        SyntheticData.write(data, 1, 128, 64, 8, 1, true, false);
        Path base = Path.of("../configs/ripu/synth_ripu_ra_daformer_small.yaml").toAbsolutePath().normalize();
        Path config = dir.resolve("tiny_ripu.yaml");
        Files.writeString(config, String.join("\n",
            "_base_: [" + base + "]",
            "name: tiny_ripu",
            "synth: {root: " + data + ", seed: 1, width: 128, height: 64, count: 8}",
            "data:",
            "  train:",
            "    rare_class_sampling: null",
            "    class_balanced_sampling: {sub_epoch: 10}",
            "    source: {data_root: " + data.resolve("gta") + "}",
            "    target: {data_root: " + data.resolve("cityscapes") + "}",
            "  val: {data_root: " + data.resolve("cityscapes") + "}",
            "  test: {data_root: " + data.resolve("cityscapes") + "}",
            "runner: {max_iters: 20}",
            "active: {select_iters: [5]}",
            ""));
        TrainConfig cfg = TrainConfig.load(config, List.of("data.val.pipeline.1.transforms.0.interpolation=bicubic"));
        Trainer.Plan plan = TrainCommand.plan(cfg, 3, dir.resolve("work"));
        ClassBalancedSampler cbs = plan.data().classBalanced();
        assertNotNull(cbs);
        assertEquals(20L * cfg.data().samplesPerGpu(), cbs.items(), "runner.max_iters x samples_per_gpu");
        assertEquals(10, cbs.subEpoch());
        assertNull(plan.data().rcs());
        // the order is fixed by the seed: planning again (a resumed run) reads the same files
        assertArrayEquals(cbs.order(), TrainCommand.plan(cfg, 3, dir.resolve("work")).data().classBalanced().order());
        assertEquals(PipelineConfig.Interpolation.BICUBIC, plan.val().get(0).interpolation());
        assertEquals(PipelineConfig.Interpolation.BICUBIC, plan.ripu().selectInterpolation());
        assertEquals(PipelineConfig.Interpolation.BILINEAR, cfg.data().source().pipeline().interpolation());
    }
}
