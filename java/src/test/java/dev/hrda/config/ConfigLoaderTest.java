package dev.hrda.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** mmcv's inheritance and --cfg-options semantics, YAML features, and the messages of bad configs. */
class ConfigLoaderTest {
    @TempDir
    Path dir;

    private Path write(String name, String... lines) throws IOException {
        Path p = dir.resolve(name);
        Files.createDirectories(p.getParent());
        Files.writeString(p, String.join("\n", lines) + "\n");
        return p;
    }

    private Object plain(Path file, String... options) {
        return ConfigLoader.load(file, List.of(options)).plain();
    }

    private static Object at(Object tree, String dotted) {
        Object o = tree;
        for (String k : dotted.split("\\.")) o = o instanceof List<?> l ? l.get(Integer.parseInt(k)) : ((Map<?, ?>) o).get(k);
        return o;
    }

    /** A config that binds: the synthetic DAFormer demo plus {@code lines}. */
    private Path onDemo(String name, String... lines) throws IOException {
        Path demo = ConfigFilesTest.configs().resolve("synth/synth_dacs_daformer_small.yaml").toAbsolutePath();
        String[] all = new String[lines.length + 1];
        all[0] = "_base_: " + demo;
        System.arraycopy(lines, 0, all, 1, lines.length);
        return write(name, all);
    }

    private ConfigException fails(Path file, String... options) {
        return assertThrows(ConfigException.class, () -> TrainConfig.load(file, Arrays.asList(options)));
    }

    // ------------------------------------------------------------------ _base_ merging

    @Test
    void childOverridesDictsMergeListsReplaceDeleteReplaces() throws IOException {
        write("_base_/a.yaml",
              "model:",
              "  backbone: {type: mit_b5, style: pytorch}",
              "  head: {dims: [1, 2, 3], fusion: {type: aspp, sep: true, dilations: [1, 6]}}",
              "x: 1");
        write("_base_/b.yaml", "_base_: a.yaml", "model: {head: {fusion: {_delete_: true, type: conv, kernel_size: 1}}}", "y: [1, 2]");
        Path c = write("cfg/c.yaml",
                       "_base_: [../_base_/b.yaml]",
                       "model:",
                       "  backbone: {type: mit_b0}",
                       "  head: {dims: [7]}",
                       "x: 2",
                       "z: {w: {_delete_: false, v: 1}}");
        Object t = plain(c);
        assertEquals("mit_b0", at(t, "model.backbone.type"));
        assertEquals("pytorch", at(t, "model.backbone.style"));  // dicts merge recursively
        assertEquals(List.of(7L), at(t, "model.head.dims"));       // lists replace
        assertEquals(Map.of("type", "conv", "kernel_size", 1L), at(t, "model.head.fusion"));  // _delete_ replaces
        assertEquals(2L, at(t, "x"));
        assertEquals(List.of(1L, 2L), at(t, "y"));
        assertEquals(Map.of("v", 1L), at(t, "z.w"));  // _delete_ keys never survive
        // base keys first, in their order, then the child's new ones (mmcv's order)
        assertEquals(List.of("model", "x", "y", "z"), List.copyOf(((Map<?, ?>) t).keySet()));
    }

    @Test
    void siblingBasesMayNotShareKeys() throws IOException {
        write("a.yaml", "k: 1");
        write("b.yaml", "k: 2");
        Path c = write("c.yaml", "_base_: [a.yaml, b.yaml]");
        ConfigException e = assertThrows(ConfigException.class, () -> plain(c));
        assertTrue(e.getMessage().contains("key 'k' is set by two _base_ files"), e.getMessage());
        assertTrue(e.getMessage().contains("a.yaml") && e.getMessage().contains("b.yaml"), e.getMessage());
    }

    @Test
    void cyclesAreNamed() throws IOException {
        write("a.yaml", "_base_: b.yaml");
        write("b.yaml", "_base_: [c.yaml]");
        write("c.yaml", "_base_: a.yaml");
        ConfigException e = assertThrows(ConfigException.class, () -> plain(dir.resolve("a.yaml")));
        assertTrue(e.getMessage().matches(".*c\\.yaml:1: _base_ cycle: .*a\\.yaml -> .*b\\.yaml -> .*c\\.yaml -> .*a\\.yaml"), e.getMessage());
    }

    @Test
    void missingBaseNamesTheIncludingFile() throws IOException {
        Path c = write("cfg/c.yaml", "# x", "_base_: [../_base_/nope.yaml]");
        ConfigException e = assertThrows(ConfigException.class, () -> plain(c));
        assertTrue(e.getMessage().contains("c.yaml:2: _base_ file '../_base_/nope.yaml' not found"), e.getMessage());
        ConfigException py = assertThrows(ConfigException.class, () -> plain(write("d.yaml", "_base_: x.py")));
        assertTrue(py.getMessage().contains("Python config"), py.getMessage());
        ConfigException none = assertThrows(ConfigException.class, () -> TrainConfig.load(dir.resolve("missing.yaml")));
        assertTrue(none.getMessage().contains("missing.yaml: config file not found"), none.getMessage());
    }

    @Test
    void aMappingCannotMergeIntoAScalarWithoutDelete() throws IOException {
        write("a.yaml", "g: null");
        ConfigException e = assertThrows(ConfigException.class, () -> plain(write("b.yaml", "_base_: a.yaml", "g: {type: block}")));
        assertTrue(e.getMessage().contains("b.yaml:2: 'g' is a mapping here but null in the base"), e.getMessage());
        assertEquals(Map.of("type", "block"), at(plain(write("c.yaml", "_base_: a.yaml", "g: {type: block, _delete_: true}")), "g"));
    }

    @Test
    void yamlAnchorsAliasesAndMergeKeys() throws IOException {
        Path c = write("c.yaml",
                       "crop: &crop [512, 512]",
                       "norm: &norm {mean: [1, 2, 3], std: [4, 5, 6]}",
                       "pipe:",
                       "  - {type: RandomCrop, crop_size: *crop}",
                       "  - {type: Normalize, <<: *norm, std: [7, 8, 9]}");
        Object t = plain(c);
        assertEquals(List.of(512L, 512L), at(t, "pipe.0.crop_size"));
        assertEquals(Map.of("type", "Normalize", "mean", List.of(1L, 2L, 3L), "std", List.of(7L, 8L, 9L)), at(t, "pipe.1"));
        ConfigException dup = assertThrows(ConfigException.class, () -> plain(write("d.yaml", "a: 1", "b: 2", "a: 3")));
        assertTrue(dup.getMessage().contains("d.yaml:3: duplicate key 'a'"), dup.getMessage());
        ConfigException syntax = assertThrows(ConfigException.class, () -> plain(write("e.yaml", "a: 1", "b: [1, 2", "c: 3")));
        assertTrue(syntax.getMessage().contains("e.yaml:") && syntax.getMessage().contains("YAML syntax error"), syntax.getMessage());
        ConfigException top = assertThrows(ConfigException.class, () -> plain(write("f.yaml", "- 1")));
        assertTrue(top.getMessage().contains("top level must be a mapping"), top.getMessage());
        assertEquals(Map.of(), plain(write("empty.yaml", "# nothing")));
    }

    // ------------------------------------------------------------------ --cfg-options

    @Test
    void cfgOptionsParseAsMmcvDictAction() {
        assertEquals(3L, CfgOptions.parse("3"));
        assertEquals(-2.5e-4, CfgOptions.parse("-2.5e-4"));
        assertEquals(true, CfgOptions.parse("True"));
        assertEquals(false, CfgOptions.parse("false"));
        assertNull(CfgOptions.parse("None"));
        assertEquals("abc", CfgOptions.parse("abc"));
        assertEquals("1", CfgOptions.parse("'1'"));  // quoted: a string
        assertEquals("a b", CfgOptions.parse("\"a b\""));
        assertEquals(List.of(1L, 2L), CfgOptions.parse("[1,2]"));
        assertEquals(List.of(1L, 2L), CfgOptions.parse("1, 2"));
        assertEquals(List.of(1024L, 512L), CfgOptions.parse("(1024, 512)"));
        // mmcv's algorithm (its docstring drops the outer brackets): a bracket-aware split at top-level commas
        assertEquals(List.of(List.of(List.of(1L, 2L, 3L), List.of("a", "b")), "c"), CfgOptions.parse("[(1,2,3),[a,b]],c"));
        assertEquals(List.of(List.of(1L, 2L, 3L), List.of("a", "b")), CfgOptions.parse("[(1,2,3),[a,b]]"));
        assertEquals(List.of(), CfgOptions.parse("[]"));
        assertEquals(Double.POSITIVE_INFINITY, CfgOptions.parse("inf"));
    }

    @Test
    void cfgOptionsOverrideNestedKeysAndListItems() throws IOException {
        Path c = onDemo("c.yaml");
        TrainConfig t = TrainConfig.load(c, List.of("runner.max_iters=20", "optimizer.lr=1e-4", "uda.blur=False",
                                                    "model.decode_head.decoder_params.fusion_cfg.dilations=[1,3]",
                                                    "data.train.source.pipeline.2.img_scale=(256,128)", "model.backbone.drop_path_rate=0.2",
                                                    "runtime.device=cpu", "name=run one"));
        assertEquals(20, t.maxIters());
        assertEquals(1e-4, t.optimizer().lr());
        assertEquals(false, t.uda().blur());
        assertEquals(List.of(1, 3), Arrays.stream(t.model().config().daformerHead().dilations()).boxed().toList());
        assertEquals(256, t.data().source().pipeline().scaleW());
        assertEquals(0.2, t.model().config().mit().dropPathRate());  // a valid key the config did not have
        assertEquals("cpu", t.runtime().device());
        assertEquals("run one", t.name());
        assertEquals("--cfg-options runner.max_iters=20", t.where("runner.max_iters"));
        assertTrue(t.text().contains("# --cfg-options runner.max_iters=20\n"), t.text());
        assertTrue(t.text().contains("max_iters: 20\n"), t.text());
    }

    @Test
    void cfgOptionsRefuseNewKeysAndBadPaths() throws IOException {
        Path c = onDemo("c.yaml");
        ConfigException e = fails(c, "uda.pseudo_treshold=0.9");
        assertEquals("--cfg-options uda.pseudo_treshold=0.9: unknown key 'uda.pseudo_treshold' (did you mean 'uda.pseudo_threshold'?)",
                     e.getMessage());
        assertTrue(fails(c, "brand_new_section=1").getMessage().contains("unknown key 'brand_new_section'"));
        assertTrue(fails(c, "data.train.source.pipeline.99.type=Pad").getMessage().contains("index 99 is out of range"));
        assertTrue(fails(c, "seed.x=1").getMessage().contains("'seed' is an integer"));
        assertTrue(fails(c, "no_equals_sign").getMessage().contains("expected key=value"));
    }

    // ------------------------------------------------------------------ validation messages

    @Test
    void unknownKeysNameTheFileThatHoldsThemAndTheNearestKey() throws IOException {
        Path c = onDemo("cfg/x.yaml", "uda:", "  pseudo_treshold: 0.9");
        assertEquals(Origin.display(c) + ":3: unknown key 'uda.pseudo_treshold' (did you mean 'uda.pseudo_threshold'?)", fails(c).getMessage());
        // in a _base_ file: that file is named, not the one loaded
        Path base = onDemo("_base_/b.yaml", "optimizer: {paramwise_cfg: {custom_keys: {head: {lr_mul: 10}}}}");
        Path child = write("cfg/y.yaml", "_base_: ../_base_/b.yaml", "seed: 3");
        assertEquals(Origin.display(base) + ":2: unknown key 'optimizer.paramwise_cfg.custom_keys.head.lr_mul' (did you mean "
                     + "'optimizer.paramwise_cfg.custom_keys.head.lr_mult'?)", fails(child).getMessage());
        // nothing close: the valid keys are listed
        String far = fails(onDemo("z.yaml", "runtime: {gpu: 1}")).getMessage();
        assertTrue(far.contains("unknown key 'runtime.gpu' (valid here: device, dtype, with_cp)"), far);
        // keys of the originals that we do not use are accepted
        TrainConfig ok = TrainConfig.load(onDemo("ok.yaml", "gpu_model: NVIDIATITANRTX", "n_gpus: 1", "name_uda: x", "my_pipeline: []",
                                                 "exp: 3", "use_ddp_wrapper: true"));
        assertEquals(0, ok.seed());
    }

    @Test
    void wrongTypesAndValuesNameFileKeyValueAndExpectation() throws IOException {
        String m = fails(onDemo("a.yaml", "uda: {alpha: high}")).getMessage();
        assertEquals(Origin.display(dir.resolve("a.yaml")) + ":2: uda.alpha: expected a number, got 'high' (a string)", m);
        m = fails(onDemo("b.yaml", "uda: {pseudo_threshold: 1.5}")).getMessage();
        assertTrue(m.endsWith("b.yaml:2: uda.pseudo_threshold: 1.5 is out of range (expected 0 to 1)"), m);
        m = fails(onDemo("c.yaml", "runner: {max_iters: 0}")).getMessage();
        assertTrue(m.endsWith("runner.max_iters: 0 is out of range (expected 1 or more)"), m);
        m = fails(onDemo("d.yaml", "model: {decode_head: {in_channels: [64, 128, 320, 512]}}")).getMessage();
        assertTrue(m.contains("model.decode_head.in_channels: [64, 128, 320, 512] does not match the MixVisionTransformer encoder's [16, 32, 64, 128]"), m);
        m = fails(onDemo("e.yaml", "model: {backbone: {type: resnet34}}")).getMessage();
        assertTrue(m.contains("model.backbone.type: 'resnet34' is not supported (mit_b0 ... mit_b5, or MixVisionTransformer"), m);
        m = fails(onDemo("e.yaml", "model: {backbone: {type: resnet101}}")).getMessage();  // the demo's DAFormer head does not go on a ResNet
        assertTrue(m.contains("model.backbone.drop_path_rate: is a MixVisionTransformer setting (backbone.type is resnet101)"), m);
        m = fails(onDemo("f.yaml", "uda: {type: MinEnt}")).getMessage();
        assertTrue(m.contains("uda type 'MinEnt' is not supported (DACS only"), m);
        m = fails(onDemo("g.yaml", "optimizer: {type: SGD}")).getMessage();  // SGD on the demo's AdamW base keeps its betas
        assertTrue(m.contains("optimizer.betas: is an AdamW setting (optimizer.type is SGD)"), m);
        m = fails(onDemo("g.yaml", "optimizer: {type: Adam}")).getMessage();
        assertTrue(m.contains("optimizer.type: 'Adam' is not supported (AdamW, SGD)"), m);
        m = fails(onDemo("h.yaml", "data: {val: {type: CityscapesDataset, img_dir: leftImg8bit/val, ann_dir: gtFine/train}}")).getMessage();
        assertTrue(m.contains("data.val.ann_dir: 'gtFine/train' does not go with img_dir 'leftImg8bit/val'"), m);
        m = fails(onDemo("i.yaml", "data: {train: {source: {type: GTA5Dataset}}}")).getMessage();
        assertTrue(m.contains("unknown data set type 'GTA5Dataset' (did you mean 'GTADataset'?)"), m);
        m = fails(onDemo("j.yaml", "uda: {mask_mode: separatetrgaug, mask_lambda: 1, mask_generator: {_delete_: true, type: block, mask_ratio: 0.7}}")).getMessage();
        assertTrue(m.endsWith("j.yaml:2: missing key 'uda.mask_generator.mask_block_size'"), m);
    }

    @Test
    void unsupportedPipelineStepsAreNamed() throws IOException {
        Path c = onDemo("c.yaml",
                        "gta_train_pipeline: &p",
                        "  - {type: LoadImageFromFile}",
                        "  - {type: LoadAnnotations}",
                        "  - {type: PhotoMetricDistortion}",
                        "data: {train: {source: {pipeline: *p}}}");
        String m = fails(c).getMessage();
        assertTrue(m.endsWith("c.yaml:5: data.train.source.pipeline[2]: 'PhotoMetricDistortion': applied by DACS itself in the originals; "
                              + "not supported as a pipeline step"), m);
        Path d = onDemo("d.yaml", "p: &p", "  - {type: LoadImageFromFile}", "  - {type: RandomFlip, prob: 0.5}", "  - {type: Resize, img_scale: [1, 1]}",
                        "data: {train: {source: {pipeline: *p}}}");
        m = assertThrows(ConfigException.class, () -> TrainConfig.load(d)).getMessage();
        assertTrue(m.contains("unknown key 'p'") , m);  // p is not a pipeline variable name
        Path e = onDemo("e.yaml", "bad_pipeline: &p", "  - {type: LoadImageFromFile}", "  - {type: RandomFlip, prob: 0.5}",
                        "  - {type: Resize, img_scale: [1, 1]}", "data: {train: {source: {pipeline: *p}}}");
        m = fails(e).getMessage();
        assertTrue(m.contains("pipeline[2]: Resize must come before RandomFlip"), m);
        Path f = onDemo("f.yaml", "bad_pipeline: &p", "  - {type: LoadImageFromFile}", "  - {type: Rezise}", "data: {train: {source: {pipeline: *p}}}");
        assertTrue(fails(f).getMessage().contains("unknown step 'Rezise' (did you mean 'Resize'?)"));
    }

    @Test
    void relativeRootsAreTakenFromTheWorkingDirectoryNotTheConfig() throws IOException {
        TrainConfig t = TrainConfig.load(onDemo("deep/er/c.yaml", "data: {train: {source: {data_root: some/where}}}", "model: {pretrained: w/mit_b0.pth}",
                                                "load_from: ckpt/latest.pth"));
        assertEquals(Path.of("some/where").toAbsolutePath(), t.data().source().dataRoot());
        assertEquals(Path.of("w/mit_b0.pth").toAbsolutePath().toString(), t.model().pretrained());
        assertEquals(Path.of("ckpt/latest.pth").toAbsolutePath().toString(), t.loadFrom());
    }

    @Test
    void udaAndDataMustAgree() throws IOException {
        String m = fails(onDemo("a.yaml", "uda: null")).getMessage();
        assertTrue(m.contains("UDADataset needs a uda section"), m);
        m = fails(onDemo("b.yaml", "data: {train: {type: DGDataset}}")).getMessage();
        assertTrue(m.contains("a DGDataset has no target: uda needs source_only: true"), m);
        m = fails(onDemo("c.yaml", "model: {hr_crop_size: [64, 64]}")).getMessage();
        assertTrue(m.contains("model.hr_crop_size: is an HRDAEncoderDecoder setting"), m);
        m = fails(onDemo("d.yaml", "evaluation: {interval: 10}", "data: {val: []}")).getMessage();
        assertTrue(m.contains("evaluation: needs data.val"), m);
    }

    /** RIPU's model bases (configs/_base_/models/deeplabv{2,3plus}_r101.yaml) bind to its ResNet-101 and DeepLab heads. */
    @Test void ripuModelBasesBind() throws IOException {
        Path base = ConfigFilesTest.configs().resolve("_base_").toAbsolutePath();
        for (String m : new String[] {"deeplabv2_r101", "deeplabv3plus_r101"}) {
            Path c = write(m + ".yaml", "_base_: [" + base.resolve("default_runtime.yaml") + ", " + base.resolve("models/" + m + ".yaml") + ", "
                                        + base.resolve("datasets/uda_synth_to_cityscapes_128x128.yaml") + ", " + base.resolve("uda/dacs_srconly.yaml")
                                        + ", " + base.resolve("schedules/adamw.yaml") + ", " + base.resolve("schedules/poly10warm.yaml") + "]",
                           "runner: {type: IterBasedRunner, max_iters: 10}", "checkpoint_config: {by_epoch: false, interval: 10}",
                           "evaluation: {interval: 10, metric: mIoU}");
            dev.hrda.model.ModelConfig mc = TrainConfig.load(c).model().config();
            assertEquals(m, mc.name());
            dev.hrda.model.ResNetConfig r = (dev.hrda.model.ResNetConfig) mc.backbone();
            assertArrayEquals(new int[] {3, 4, 23, 3}, r.blocks());
            assertTrue(r.frozenBn());
            dev.hrda.model.DeepLabConfig h = (dev.hrda.model.DeepLabConfig) mc.head();
            assertEquals(19, h.numClasses());
            if (m.equals("deeplabv2_r101")) {
                assertArrayEquals(new int[] {6, 12, 18, 24}, h.dilations());
            } else {
                assertArrayEquals(new int[] {1, 6, 12, 18}, h.dilations());
                assertEquals(512, h.channels());
                assertEquals(48, h.lowChannels());
                assertEquals(0.1f, h.dropout());
            }
            String bad = fails(c, "model.decode_head.in_channels=1024").getMessage();
            assertTrue(bad.contains("model.decode_head.in_channels: 1024 is not the resnet101 encoder's last stage (2048)"), bad);
            bad = fails(c, "model.backbone.norm_cfg.type=GN").getMessage();
            assertTrue(bad.contains("model.backbone.norm_cfg.type: 'GN' is not supported (FrozenBN, BN)"), bad);
        }
    }

    /** RIPU's sections: active (rounds, budget, loss weights), SGD with a 10x head, a poly decay longer than the run. */
    @Test void ripuSectionsBindAndBadValuesNameTheirKey() throws IOException {
        Path c = onDemo("ripu.yaml", "uda: {source_only: true}",
                        "active: {setting: RA, select_iters: [100, 200], ratio: 0.022, radius_k: 1, consistent_loss: 0.1, negative_loss: 1.0,",
                        "         negative_threshold: 0.05, select_scale: [256, 128]}",
                        "optimizer: {_delete_: true, type: SGD, lr: 2.5e-4, momentum: 0.9, weight_decay: 5.0e-4,",
                        "            paramwise_cfg: {custom_keys: {head: {lr_mult: 10.0}}}}",
                        "lr_config: {_delete_: true, policy: poly, power: 0.9, min_lr: 0, by_epoch: false, total_iters: 1500}");
        TrainConfig t = TrainConfig.load(c);
        ActiveSpec a = t.active();
        assertTrue(a.regions());
        assertArrayEquals(new int[] {100, 200}, a.selectIters());
        assertEquals(0.022, a.ratio());
        assertEquals(1, a.radiusK());
        assertArrayEquals(new int[] {256, 128}, a.selectScale());
        assertTrue(t.data().target() != null && t.data().target().pipeline().withLabel(), "RIPU keeps the target with its labels");
        assertEquals("SGD", t.optimizer().type());
        assertEquals(0.9, t.optimizer().momentum());
        assertEquals(5e-4, t.optimizer().weightDecay());
        assertEquals(10f, t.optimizer().customKeys().get(0).lrMult());
        assertEquals(1500, t.lr().schedule(t.maxIters()).maxIters(), "the decay runs to total_iters, not to runner.max_iters");
        assertEquals(0.9, t.lr().power());

        String m = fails(c, "active.select_iters=[100,5000]").getMessage();
        assertTrue(m.contains("active.select_iters: 5000 is not an iteration of this run (0 .. runner.max_iters 1000)"), m);
        m = fails(c, "active.select_iters=[200,100]").getMessage();
        assertTrue(m.contains("must increase"), m);
        m = fails(c, "active.setting=PA").getMessage();
        assertTrue(m.contains("active.pixels"), m);
        m = fails(c, "uda.source_only=false").getMessage();
        assertTrue(m.contains("active (RIPU) needs uda.source_only: true"), m);
        m = fails(c, "optimizer.betas=[0.9,0.99]").getMessage();
        assertTrue(m.contains("optimizer.betas: is an AdamW setting (optimizer.type is SGD)"), m);
        m = fails(c, "lr_config.total_iters=500").getMessage();
        assertTrue(m.contains("lr_config.total_iters 500 is shorter than runner.max_iters 1000"), m);
        m = fails(c, "data.train.target.ann_dir=null").getMessage();
        assertTrue(m.contains("RIPU reveals the target's ground truth"), m);
    }
}
