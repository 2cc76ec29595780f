package dev.hrda.cli;

import dev.hrda.data.SyntheticData;
import dev.hrda.io.TensorFile;
import dev.hrda.testing.Cli;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code hrda train} from a config: a run killed with SIGKILL resumes bit for bit; bad input is refused by name. */
class TrainCommandTest {
    @TempDir
    static Path dir;
    static Path config;

    /** The synthetic DACS demo config shrunk to a few seconds per run: a tiny custom MiT on 64x64 crops. */
    @BeforeAll
    static void setUp() throws IOException {
        Path data = dir.resolve("synth");
        SyntheticData.write(data, 1, 128, 64, 8, 2, true, false);
        Path base = Path.of("../configs/synth/synth_dacs_daformer_small.yaml").toAbsolutePath().normalize();
        config = dir.resolve("tiny_dacs.yaml");
        Files.writeString(config, String.join("\n",
            "_base_: [" + base + "]",
            "name: tiny_dacs",
            "synth: {root: " + data + ", seed: 1, width: 128, height: 64, count: 8}",
            "model:",
            "  backbone: {type: MixVisionTransformer, _delete_: true, embed_dims: [8, 16, 24, 32], num_heads: [1, 1, 1, 2],",
            "             depths: [1, 1, 1, 1], sr_ratios: [8, 4, 2, 1], mlp_ratios: [2, 2, 2, 2]}",
            "  decode_head: {in_channels: [8, 16, 24, 32], channels: 16, decoder_params: {embed_dims: 16}}",
            "uda: {imnet_feature_dist_lambda: 0, pseudo_threshold: 0.5, debug_img_interval: 1000, pseudo_weight_ignore_top: 2, pseudo_weight_ignore_bottom: 8}",
            "data:",
            "  workers_per_gpu: 1",
            "  train:",
            "    rare_class_sampling: null",
            "    source: {data_root: " + data.resolve("gta") + "}",
            "    target: {data_root: " + data.resolve("cityscapes") + "}",
            "  val: {data_root: " + data.resolve("cityscapes") + "}",
            "  test: {data_root: " + data.resolve("cityscapes") + "}",
            "runner: {max_iters: 8}",
            "checkpoint_config: {interval: 2, max_keep_ckpts: 0}",
            "evaluation: {interval: 8}",
            "log_config: {interval: 1}",
            "lr_config: {warmup_iters: 2}",
            ""));
    }

    private static List<String> pipelineOverrides() {
        // 64x64 crops of the 128x64 images: Resize to the image's own size, crop 64
        return List.of("--cfg-options", "data.train.source.pipeline.2.img_scale=[128,64]", "data.train.source.pipeline.3.crop_size=[64,64]",
                       "data.train.source.pipeline.6.size=[64,64]", "data.train.target.pipeline.2.img_scale=[128,64]",
                       "data.train.target.pipeline.3.crop_size=[64,64]", "data.train.target.pipeline.6.size=[64,64]",
                       "data.val.pipeline.1.img_scale=[128,64]");
    }

    private static String[] args(Path work, String... extra) {
        List<String> a = new ArrayList<>(List.of("train", config.toString(), "--work-dir", work.toString(), "-q"));
        a.addAll(List.of(extra));
        a.addAll(pipelineOverrides());
        return a.toArray(new String[0]);
    }

    @Test
    void killedRunResumesBitForBit() throws Exception {
        Path whole = dir.resolve("whole"), killed = dir.resolve("killed");
        Cli.Run a = Cli.run(args(whole));
        assertEquals(0, a.status(), a.err() + a.out());
        assertTrue(a.out().contains("done: 8 iterations"), a.out());

        // a second JVM, SIGKILLed at a random moment after its first checkpoint
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                                                   "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0", "-cp", System.getProperty("java.class.path"),
                                                   Main.class.getName()));
        cmd.addAll(List.of(args(killed)));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("killed.out").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
        while (!Files.exists(killed.resolve("iter_2.pth")) && p.isAlive() && System.nanoTime() < deadline) Thread.sleep(20);
        Thread.sleep(new Random(7).nextInt(1500));
        assertTrue(p.isAlive(), "the run finished before it could be killed: " + Files.readString(dir.resolve("killed.out")));
        p.destroyForcibly();  // SIGKILL
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertNotEquals(0, p.exitValue());
        for (Path ck : checkpoints(killed)) TensorFile.read(ck);  // every checkpoint there is whole

        Cli.Run b = Cli.run(args(killed, "--resume"));
        assertEquals(0, b.status(), b.err() + b.out());
        assertTrue(b.out().contains("resumed from"), b.out());
        assertEquals(trainRecords(whole), trainRecords(killed), "the resumed run's losses equal the uninterrupted run's, bit for bit");
    }

    @Test
    void badInputIsRefusedNamingTheFault() throws IOException {
        Path typo = dir.resolve("typo.yaml");
        Files.writeString(typo, "_base_: [" + config + "]\nuda: {pseudo_treshold: 0.9}\n");
        Cli.Run r = Cli.run("train", typo.toString(), "--work-dir", dir.resolve("typo").toString());
        assertEquals(1, r.status());
        assertTrue(r.err().contains("pseudo_treshold") && r.err().contains("pseudo_threshold") && r.err().contains("typo.yaml"), r.err());

        Path missing = dir.resolve("missing.yaml");
        Files.writeString(missing, "_base_: [" + config + "]\nsynth: null\ndata: {train: {source: {data_root: " + dir.resolve("nowhere") + "}}}\n");
        r = Cli.run("train", missing.toString(), "--work-dir", dir.resolve("missing").toString());
        assertEquals(1, r.status());
        assertTrue(r.err().contains("nowhere"), r.err());

        // a checkpoint of another model: --load-from is strict and names what differs
        Path other = dir.resolve("other.pth");
        Cli.Run first = Cli.run(args(dir.resolve("other"), "--max-iters", "1"));
        assertEquals(0, first.status(), first.err());
        Path ck = dir.resolve("other").resolve("iter_1.pth");
        Files.copy(ck, other);
        r = Cli.run(args(dir.resolve("other2"), "--load-from", other.toString(), "--cfg-options", "model.decode_head.channels=24"));
        assertEquals(1, r.status());
        assertTrue(r.err().contains("other.pth") && r.err().contains("decode_head"), r.err());
        assertTrue(Files.notExists(dir.resolve("other2").resolve("iter_1.pth")), "nothing written for a refused run");
    }

    private static List<Path> checkpoints(Path work) throws IOException {
        try (Stream<Path> s = Files.list(work)) {
            return s.filter(f -> f.getFileName().toString().matches("iter_\\d+\\.pth")).sorted().toList();
        }
    }

    /** Every train record of a work dir's .log.json files, without the timing and memory fields. */
    static List<String> trainRecords(Path work) throws IOException {
        List<String> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(work)) {
            for (Path f : s.filter(x -> x.toString().endsWith(".log.json")).sorted().toList()) {
                for (String line : Files.readAllLines(f)) {
                    if (!line.contains("\"mode\": \"train\"")) continue;
                    String rec = line.replaceAll("\"[a-z_]*time\": [^,}]*(, )?", "").replaceAll("\"memory\": [^,}]*(, )?", "");
                    // a killed run may have logged an iteration again after resuming: keep the last of each
                    String iter = rec.replaceAll(".*\"iter\": (\\d+).*", "$1");
                    out.removeIf(x -> x.replaceAll(".*\"iter\": (\\d+).*", "$1").equals(iter));
                    out.add(rec);
                }
            }
        }
        return out;
    }
}
