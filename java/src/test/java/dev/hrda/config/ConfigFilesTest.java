package dev.hrda.config;

import dev.hrda.data.DatasetKind;
import dev.hrda.data.PipelineConfig;
import dev.hrda.model.HeadConfig;
import dev.hrda.model.ModelConfig;
import dev.hrda.optim.AdamW;
import dev.hrda.optim.PolySchedule;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The shipped configs under configs/: all load, and the recipes bind to hrda_spec.md §0, §6, §7. */
class ConfigFilesTest {
    /** The repository's configs/ (tests run in java/). */
    static Path configs() {
        Path p = Path.of("..", "configs");
        return Files.isDirectory(p) ? p : Path.of("configs");
    }

    static TrainConfig load(String rel) {
        return TrainConfig.load(configs().resolve(rel));
    }

    static final String HRDA = "hrda/gtaHR2csHR_hrda.yaml";
    static final String DAFORMER = "daformer/gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.yaml";
    static final String MIC = "mic/gtaHR2csHR_mic_hrda.yaml";
    static final int[] FD_CLASSES = {6, 7, 11, 12, 13, 14, 15, 16, 17, 18};
    static final float[] MEAN = {123.675f, 116.28f, 103.53f}, STD = {58.395f, 57.12f, 57.375f};

    static List<Path> shipped() throws IOException {
        try (Stream<Path> s = Files.walk(configs())) {
            return s.filter(p -> p.toString().endsWith(".yaml") && !configs().relativize(p).startsWith("_base_")).sorted().toList();
        }
    }

    @Test
    void everyShippedConfigLoadsAndItsDumpLoadsTheSame(@TempDir Path tmp) throws IOException {
        List<Path> files = shipped();
        assertTrue(files.size() >= 13, "configs found: " + files);
        for (Path f : files) {
            TrainConfig c = TrainConfig.load(f);
            assertEquals(f.getFileName().toString().replace(".yaml", ""), c.stem());
            assertFalse(c.name().isEmpty());
            // the merged text is a config of its own that binds to the same values
            Path dumped = c.dump(tmp.resolve(c.stem()));
            TrainConfig again = TrainConfig.load(dumped);
            assertEquals(body(c.text()), body(again.text()), f.toString());
            assertEquals(c.model().config().name(), again.model().config().name());
            assertEquals(c.optimizer(), again.optimizer(), f.toString());
            assertEquals(c.lr(), again.lr(), f.toString());
        }
    }

    /** The YAML without the header comment naming the file. */
    private static String body(String text) {
        return text.substring(text.indexOf('\n') + 1);
    }

    @Test
    void hrdaBindsToTheSpec() {
        TrainConfig c = load(HRDA);
        assertEquals("gtaHR2csHR_hrda", c.stem());
        assertEquals("gtaHR2csHR_hrda_s1", c.name());
        assertEquals(1, c.seed());
        assertHrdaModel(c.model());
        assertHrdaData(c.data());
        UdaSpec u = c.uda();
        assertDacsRecipe(u);
        assertEquals(0, u.pseudoWeightIgnoreTop());
        assertEquals(0, u.pseudoWeightIgnoreBottom());
        assertNull(u.mask());
        assertOptimizerAndSchedule(c);
        assertTrue(c.text().contains("crop_pseudo_margins"));
        assertTrue(c.where("uda.alpha").contains("configs/_base_/uda/dacs_a999_fdthings.yaml:"), c.where("uda.alpha"));
        assertTrue(c.where("seed").endsWith("gtaHR2csHR_hrda.yaml:15"), c.where("seed"));
    }

    static void assertHrdaModel(ModelSpec m) {
        assertEquals("HRDAEncoderDecoder", m.type());
        assertTrue(m.pretrained().endsWith("pretrained/mit_b5.pth"), m.pretrained());
        assertTrue(Path.of(m.pretrained()).isAbsolute());
        assertEquals(0.5, m.featureScale());
        assertTrue(m.batchedSlide());
        ModelConfig mc = m.config();
        assertEquals("hrda_mitb5", mc.name());
        assertEquals("mit_b5", mc.backbone().name());
        assertEquals(0.1, mc.mit().dropPathRate());
        assertDaformerHead(mc.daformerHead(), new int[] {64, 128, 320, 512});
        HeadConfig att = mc.attentionHead();
        assertEquals(HeadConfig.Fusion.CONV1X1, att.fusion());
        assertEquals(256, att.embedDim());
        assertEquals(256, att.channels());
        assertEquals(19, att.numClasses());  // attention_classwise
        assertEquals(0.5, mc.hrda().contextScale());
        assertEquals(512, mc.hrda().hrCropSize());
        assertEquals(8, mc.hrda().cropDivisible());
        assertEquals(0.1, mc.hrda().hrLossWeight());
        assertTrue(mc.hrda().hrSlideInference());
        assertTrue(Double.isNaN(mc.hrda().fixedAttention()));
        assertEquals(1024, mc.testCrop());
        assertEquals(512, mc.testStride());
        // the same network as the named model
        ModelConfig named = ModelConfig.named("hrda_mitb5");
        assertEquals(named.hrda(), mc.hrda());
        assertEquals(named.testCrop(), mc.testCrop());
    }

    static void assertDaformerHead(HeadConfig h, int[] in) {
        assertArrayEquals(in, h.inChannels());
        assertEquals(256, h.embedDim());
        assertEquals(256, h.channels());
        assertEquals(19, h.numClasses());
        assertEquals(HeadConfig.Fusion.ASPP, h.fusion());
        assertArrayEquals(new int[] {1, 6, 12, 18}, h.dilations());
        assertEquals(0.1f, h.dropout());
    }

    static void assertHrdaData(DataSpec d) {
        assertEquals(2, d.samplesPerGpu());
        assertEquals(1, d.workersPerGpu());
        assertEquals(new RcsSpec(3000, 0.01, 2.0), d.rareClassSampling());
        DatasetSpec s = d.source();
        assertEquals("GTADataset", s.type());
        assertEquals(DatasetKind.GTA, s.kind());
        assertEquals(Path.of("data/gta").toAbsolutePath(), s.dataRoot());
        assertEquals("images", s.imgDir());
        assertEquals("labels", s.annDir());
        assertEquals("all", s.split());
        assertPipeline(s.pipeline(), 2560, 1440, 1024, 0.75, true, null);
        DatasetSpec t = d.target();
        assertEquals(DatasetKind.CITYSCAPES, t.kind());
        assertEquals("train", t.split());
        assertEquals(Path.of("data/cityscapes").toAbsolutePath(), t.dataRoot());
        assertPipeline(t.pipeline(), 2048, 1024, 1024, 1.0, false, new int[] {30, 240, 30, 30});
        assertEquals(1, d.val().size());
        assertEvalSet(d.val().get(0), 2048, 1024);
        assertEvalSet(d.test(), 2048, 1024);
    }

    static void assertPipeline(PipelineConfig p, int w, int h, int crop, double catMax, boolean label, int[] margins) {
        assertEquals(w, p.scaleW());
        assertEquals(h, p.scaleH());
        assertEquals(crop, p.cropH());
        assertEquals(crop, p.cropW());
        assertEquals(catMax, p.catMaxRatio());
        assertEquals(0.5, p.flipProb());
        assertArrayEquals(MEAN, p.mean());
        assertArrayEquals(STD, p.std());
        assertEquals(label, p.withLabel());
        assertArrayEquals(margins, p.validMargins());
        if (margins != null) {
            assertEquals(2048, p.refW());
            assertEquals(1024, p.refH());
        }
    }

    static void assertEvalSet(DatasetSpec v, int w, int h) {
        assertEquals("CityscapesDataset", v.type());
        assertEquals("cityscapes", v.name());
        assertEquals("val", v.split());
        assertEquals("leftImg8bit/val", v.imgDir());
        assertEquals("gtFine/val", v.annDir());
        PipelineConfig p = v.pipeline();
        assertEquals(w, p.scaleW());
        assertEquals(h, p.scaleH());
        assertEquals(0, p.cropH());
        assertEquals(0.0, p.flipProb());
        assertTrue(p.withLabel());
        assertArrayEquals(MEAN, p.mean());
    }

    static void assertDacsRecipe(UdaSpec u) {
        assertEquals("DACS", u.type());
        assertFalse(u.sourceOnly());
        assertEquals(0.999, u.alpha());
        assertEquals(0.968, u.pseudoThreshold());
        assertEquals(0.005, u.imnetFeatureDistLambda());
        assertArrayEquals(FD_CLASSES, u.imnetFeatureDistClasses());
        assertEquals(0.75, u.imnetFeatureDistScaleMinRatio());
        assertEquals("class", u.mix());
        assertTrue(u.blur());
        assertEquals(0.2, u.colorJitterStrength());
        assertEquals(0.2, u.colorJitterProbability());
        assertEquals(1000, u.debugImgInterval());
        assertFalse(u.printGradMagnitude());
    }

    static void assertOptimizerAndSchedule(TrainConfig c) {
        OptimizerSpec o = c.optimizer();
        assertEquals("AdamW", o.type());
        assertEquals(6e-5, o.lr());
        assertEquals(0.9, o.beta1());
        assertEquals(0.999, o.beta2());
        assertEquals(0.01, o.weightDecay());
        assertEquals(1e-8, o.eps());
        assertEquals(List.of(new AdamW.Rule("head", 10f, 1f), new AdamW.Rule("pos_block", 1f, 0f), new AdamW.Rule("norm", 1f, 0f)),
                     o.customKeys());
        LrSpec lr = c.lr();
        assertEquals("poly", lr.policy());
        assertEquals("linear", lr.warmup());
        assertEquals(1500, lr.warmupIters());
        assertEquals(1e-6, lr.warmupRatio());
        assertEquals(1.0, lr.power());
        assertEquals(0.0, lr.minLr());
        assertEquals(PolySchedule.hrdaDefault(40000), lr.schedule(c.maxIters()));
        assertEquals(40000, c.maxIters());
        assertEquals(new CheckpointSpec(40000, 1), c.checkpoint());
        assertEquals(new EvalSpec(4000, "mIoU"), c.evaluation());
        assertEquals(50, c.logInterval());
        assertNull(c.loadFrom());
        assertNull(c.resumeFrom());
        assertNull(c.synth());
        assertEquals(RuntimeSpec.DEFAULT, c.runtime());
    }

    @Test
    void daformerBindsToTheSpec() {
        TrainConfig c = load(DAFORMER);
        assertEquals(0, c.seed());
        ModelSpec m = c.model();
        assertEquals("EncoderDecoder", m.type());
        assertEquals("daformer_mitb5", m.config().name());
        assertFalse(m.isHrda());
        assertNull(m.config().attentionHead());
        assertEquals(0, m.config().testCrop());  // whole-image test
        assertEquals(1.0, m.featureScale());
        assertFalse(m.batchedSlide());
        assertDaformerHead(m.config().daformerHead(), new int[] {64, 128, 320, 512});
        DataSpec d = c.data();
        assertEquals(4, d.workersPerGpu());
        assertEquals(new RcsSpec(3000, 0.01, 0.5), d.rareClassSampling());
        assertPipeline(d.source().pipeline(), 1280, 720, 512, 0.75, true, null);
        assertPipeline(d.target().pipeline(), 1024, 512, 512, 1.0, false, null);
        assertEvalSet(d.val().get(0), 1024, 512);
        assertDacsRecipe(c.uda());
        assertEquals(15, c.uda().pseudoWeightIgnoreTop());
        assertEquals(120, c.uda().pseudoWeightIgnoreBottom());
        assertNull(c.uda().mask());
        assertOptimizerAndSchedule(c);
    }

    @Test
    void micIsHrdaPlusMasking() {
        TrainConfig c = load(MIC);
        assertEquals(2, c.seed());
        assertEquals("gtaHR2csHR_mic_hrda_s2", c.name());
        assertHrdaModel(c.model());
        assertHrdaData(c.data());
        assertDacsRecipe(c.uda());
        assertOptimizerAndSchedule(c);
        assertEquals(new MaskSpec("separatetrgaug", true, true, 1.0, "block", 0.7, 64), c.uda().mask());
    }

    @Test
    void synthiaCounterpartsUseSynthiaAtTheirResolution() {
        TrainConfig h = load("hrda/synHR2csHR_1024x1024_dacs_a999_fdthings_rcs001-20_cpl2_hrda1-512-01_daformer_sepaspp_sl_mitb5_poly10warm_s0.yaml");
        assertHrdaModel(h.model());
        assertEquals(DatasetKind.SYNTHIA, h.data().source().kind());
        assertEquals("RGB", h.data().source().imgDir());
        assertEquals("GT/LABELS", h.data().source().annDir());
        assertPipeline(h.data().source().pipeline(), 2560, 1520, 1024, 0.75, true, null);
        assertPipeline(h.data().target().pipeline(), 2048, 1024, 1024, 1.0, false, new int[] {30, 240, 30, 30});
        assertEquals(new RcsSpec(3000, 0.01, 2.0), h.data().rareClassSampling());
        assertDacsRecipe(h.uda());
        assertOptimizerAndSchedule(h);
        assertEquals(0, h.seed());

        TrainConfig m = load("mic/synHR2csHR_1024x1024_dacs_a999_fdthings_rcs001-20_cpl2_m64-07-spta_hrda1-512-01_daformer_sepaspp_sl_mitb5_poly10warm_s0.yaml");
        assertEquals(DatasetKind.SYNTHIA, m.data().source().kind());
        assertEquals(new MaskSpec("separatetrgaug", true, true, 1.0, "block", 0.7, 64), m.uda().mask());

        TrainConfig d = load("daformer/syn2cs_dacs_a999_fdthings_rcs001_cpl_daformer_sepaspp_mitb5_poly10warm_s0.yaml");
        assertEquals("EncoderDecoder", d.model().type());
        assertPipeline(d.data().source().pipeline(), 1280, 760, 512, 0.75, true, null);
        assertEquals(15, d.uda().pseudoWeightIgnoreTop());
        assertEquals(new RcsSpec(3000, 0.01, 0.5), d.data().rareClassSampling());
        assertDacsRecipe(d.uda());
    }

    @Test
    void sourceOnlyConfigsHaveNoTarget() {
        TrainConfig d = load("daformer/gta2cs_source-only_daformer_sepaspp_mitb5_poly10warm_s0.yaml");
        assertNull(d.uda());  // DAFormer's source-only: no uda section, plain mmseg training
        assertNull(d.data().target());
        assertNull(d.data().rareClassSampling());
        assertEquals(DatasetKind.GTA, d.data().source().kind());
        assertPipeline(d.data().source().pipeline(), 1280, 720, 512, 0.75, true, null);
        assertOptimizerAndSchedule(d);

        TrainConfig h = load("hrda/gtaHR2csHR_1024x1024_dacs_srconly_rcs001-20_hrda1-512-01_daformer_sepaspp_sl_mitb5_poly10warm_s0.yaml");
        assertTrue(h.uda().sourceOnly());  // MIC's dacs_srconly
        assertNull(h.data().target());
        assertEquals(0.0, h.uda().imnetFeatureDistLambda());
        assertHrdaModel(h.model());
        assertEquals(new RcsSpec(3000, 0.01, 2.0), h.data().rareClassSampling());
    }

    @Test
    void domainGeneralisationEvaluatesFourDataSetsInOneRun() {
        TrainConfig c = load("dg/gtaHR2csHR_1024x1024_dgdacs_fdthings_srconly_rcs001-20_hrda1-512-01_daformer_sepaspp_sl_mitb5_poly10warm_s0.yaml");
        assertTrue(c.uda().sourceOnly());
        assertEquals(0.005, c.uda().imnetFeatureDistLambda());
        assertNull(c.data().target());
        assertHrdaModel(c.model());
        List<DatasetSpec> val = c.data().val();
        assertEquals(List.of(DatasetKind.CITYSCAPES, DatasetKind.BDD100K, DatasetKind.MAPILLARY, DatasetKind.ACDC),
                     val.stream().map(DatasetSpec::kind).toList());
        assertEquals(List.of("cityscapes", "bdd100k", "mapillary", "acdc"), val.stream().map(DatasetSpec::name).toList());
        assertEquals(List.of("val", "val", "validation", "val"), val.stream().map(DatasetSpec::split).toList());
        assertEquals(2048, val.get(1).pipeline().scaleW());
        assertEquals(1920, val.get(3).pipeline().scaleW());
        assertEquals(1080, val.get(3).pipeline().scaleH());
        assertEquals(Path.of("data/mapillary").toAbsolutePath(), val.get(2).dataRoot());
    }

    @Test
    void synthDemosAreSmallAndDrawTheirData() {
        for (String n : List.of("synth_srconly_daformer_small", "synth_dacs_daformer_small", "synth_hrda_small", "synth_mic_hrda_small")) {
            TrainConfig c = load("synth/" + n + ".yaml");
            assertEquals(n, c.name());
            assertEquals(new SynthSpec(Path.of("data/synth").toAbsolutePath(), 0, 512, 256, 64), c.synth());
            assertNull(c.model().pretrained());
            assertArrayEquals(new int[] {16, 32, 64, 128}, c.model().config().mit().embedDims());
            assertArrayEquals(new int[] {1, 1, 2, 4}, c.model().config().mit().heads());
            assertArrayEquals(new int[] {16, 32, 64, 128}, c.model().config().head().inChannels());
            assertEquals(64, c.model().config().daformerHead().embedDim());
            assertEquals(Path.of("data/synth/gta").toAbsolutePath(), c.data().source().dataRoot());
            assertEquals(Path.of("data/synth/cityscapes").toAbsolutePath(), c.data().val().get(0).dataRoot());
            assertEquals(1000, c.maxIters());
            assertEquals(6e-4, c.optimizer().lr(), 1e-12);
            assertEquals(0.99, c.uda().alpha(), 1e-12);
            assertEquals(0, c.uda().imnetFeatureDistLambda(), 0);
            assertEquals(100, c.lr().warmupIters());
            assertEquals(200, c.data().rareClassSampling().minPixels());
            boolean hrda = n.contains("hrda");
            assertEquals(hrda, c.isHrda());
            if (hrda) {  // native resolution, as HRDA (twice DAFormer's)
                assertPipeline(c.data().source().pipeline(), 512, 256, 256, 0.75, true, null);
                assertEquals(512, c.data().val().get(0).pipeline().scaleW());
                assertEquals(128, c.model().config().hrda().hrCropSize());
                assertEquals(256, c.model().config().testCrop());
                assertEquals(128, c.model().config().testStride());
                assertArrayEquals(new int[] {30, 240, 30, 30}, c.data().target().pipeline().validMargins());
                assertEquals(2.0, c.data().rareClassSampling().minCropRatio(), 0);
            } else {  // half resolution, as DAFormer
                assertPipeline(c.data().source().pipeline(), 256, 128, 128, 0.75, true, null);
                assertEquals(256, c.data().val().get(0).pipeline().scaleW());
                assertEquals(0, c.model().config().testCrop());
                assertEquals(4, c.uda().pseudoWeightIgnoreTop());
                assertEquals(30, c.uda().pseudoWeightIgnoreBottom());
            }
            assertEquals(n.contains("srconly"), c.uda().sourceOnly());
            assertEquals(n.contains("srconly"), c.data().target() == null);
            assertEquals(n.contains("mic"), c.uda().mask() != null);
        }
        assertEquals(32, load("synth/synth_mic_hrda_small.yaml").uda().mask().blockSize());
    }

    /** RIPU's recipe (ripu_spec.md §1–§3) as configs/ripu binds it. */
    @Test
    void ripuConfigsBindToTheOriginalRecipe() {
        TrainConfig c = load("ripu/gtav2cityscapes_deeplabv2_r101_RA.yaml");
        assertEquals("deeplabv2_r101", c.model().config().name());
        assertEquals("SGD", c.optimizer().type());
        assertEquals(2.5e-4, c.optimizer().lr());
        assertEquals(0.9, c.optimizer().momentum());
        assertEquals(5e-4, c.optimizer().weightDecay());
        assertEquals(40000, c.maxIters());
        assertEquals(62500, c.lr().schedule(c.maxIters()).maxIters());
        assertEquals(0.9, c.lr().power());
        assertArrayEquals(new int[] {10000, 12000, 14000, 16000, 18000}, c.active().selectIters());
        assertEquals(0.022, c.active().ratio());
        var src = c.data().source().pipeline();
        assertArrayEquals(new int[] {1280, 720}, src.resizedSize(1914, 1052), "exactly 1280x720, as RIPU resizes GTA");
        assertEquals(0.0, src.flipProb());
        assertTrue(c.data().target().pipeline().withLabel());
        assertEquals(1.0, c.data().val().get(0).pipeline().flipProb(), "test-time flip averaging");
        TrainConfig pa = load("ripu/gtav2cityscapes_deeplabv2_r101_PA.yaml");
        assertEquals(40, pa.active().pixels());
        assertEquals(32, pa.active().radiusK());
        TrainConfig v3 = load("ripu/gtav2cityscapes_deeplabv3plus_r101_RA.yaml");
        assertEquals("deeplabv3plus_r101", v3.model().config().name());
        assertEquals(0.05, v3.active().ratio());
        TrainConfig sf = load("ripu/gtav2cityscapes_deeplabv2_r101_RA_source_free.yaml");
        assertTrue(sf.active().sourceFree());
        assertArrayEquals(new int[] {0, 2000, 4000, 6000, 8000}, sf.active().selectIters());
        assertEquals(9, sf.active().radiusK());
        assertEquals(30000, sf.maxIters());
        // RIPU's data pipeline: class-balanced source sub-epochs of 3000, bicubic image resizing (train and test)
        for (String f : new String[] {"ripu/gtav2cityscapes_deeplabv2_r101_RA.yaml", "ripu/synthia2cityscapes_deeplabv2_r101_RA.yaml",
                                      "ripu/gtav2cityscapes_deeplabv3plus_r101_RA.yaml"}) {
            DataSpec d = load(f).data();
            assertEquals(new ClassBalancedSpec(3000), d.classBalancedSampling(), f);
            assertNull(d.rareClassSampling(), f);
            assertEquals(PipelineConfig.Interpolation.BICUBIC, d.source().pipeline().interpolation(), f);
            assertEquals(PipelineConfig.Interpolation.BICUBIC, d.target().pipeline().interpolation(), f);
            assertEquals(PipelineConfig.Interpolation.BICUBIC, d.val().get(0).pipeline().interpolation(), f);
        }
        // the synthetic demo keeps mmcv's defaults
        DataSpec demo = load("ripu/synth_ripu_ra_daformer_small.yaml").data();
        assertNull(demo.classBalancedSampling());
        assertEquals(PipelineConfig.Interpolation.BILINEAR, demo.source().pipeline().interpolation());
    }

    private static Path over(Path dir, String name, String... lines) throws IOException {
        Path base = configs().resolve("ripu/gtav2cityscapes_deeplabv2_r101_RA.yaml").toAbsolutePath();
        Path f = dir.resolve(name);
        Files.writeString(f, "_base_: [" + base + "]\n" + String.join("\n", lines) + "\n");
        return f;
    }

    @Test
    void classBalancedSamplingAndInterpolationBindOrFailNamingTheKeys(@TempDir Path tmp) throws IOException {
        TrainConfig c = TrainConfig.load(over(tmp, "a.yaml", "data: {train: {class_balanced_sampling: {sub_epoch: 500}}}"));
        assertEquals(new ClassBalancedSpec(500), c.data().classBalancedSampling());
        TrainConfig dflt = TrainConfig.load(over(tmp, "b.yaml", "data: {train: {class_balanced_sampling: {}}}"));
        assertEquals(new ClassBalancedSpec(3000), dflt.data().classBalancedSampling());
        ConfigException both = org.junit.jupiter.api.Assertions.assertThrows(ConfigException.class, () -> TrainConfig.load(
                over(tmp, "c.yaml", "data: {train: {rare_class_sampling: {min_pixels: 3000, class_temp: 0.01, min_crop_ratio: 0.5}}}")));
        assertTrue(both.getMessage().contains("data.train.class_balanced_sampling") && both.getMessage().contains("data.train.rare_class_sampling"),
                   both.getMessage());
        ConfigException zero = org.junit.jupiter.api.Assertions.assertThrows(ConfigException.class, () -> TrainConfig.load(
                over(tmp, "d.yaml", "data: {train: {class_balanced_sampling: {sub_epoch: 0}}}")));
        assertTrue(zero.getMessage().contains("sub_epoch"), zero.getMessage());
        ConfigException unknown = org.junit.jupiter.api.Assertions.assertThrows(ConfigException.class, () -> TrainConfig.load(
                over(tmp, "e.yaml", "data: {train: {class_balanced_sampling: {sub_epochs: 10}}}")));
        assertTrue(unknown.getMessage().contains("sub_epochs"), unknown.getMessage());
        // Resize interpolation: bilinear (the default), bicubic; anything else names the key and the accepted values
        Path bilinear = over(tmp, "f.yaml", "data: {train: {source: {pipeline: [",
                             "  {type: LoadImageFromFile}, {type: LoadAnnotations},",
                             "  {type: Resize, img_scale: [1280, 720], keep_ratio: false, interpolation: bilinear},",
                             "  {type: RandomCrop, crop_size: [720, 1280]},",
                             "  {type: Normalize, mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375], to_rgb: true}]}}}");
        assertEquals(PipelineConfig.Interpolation.BILINEAR, TrainConfig.load(bilinear).data().source().pipeline().interpolation());
        ConfigException area = org.junit.jupiter.api.Assertions.assertThrows(ConfigException.class, () -> TrainConfig.load(
                over(tmp, "g.yaml", Files.readString(bilinear).lines().skip(1).map(l -> l.replace("bilinear", "area")).toArray(String[]::new))));
        String m = area.getMessage();
        assertTrue(m.contains("data.train.source.pipeline[2].interpolation") && m.contains("'area'") && m.contains("bilinear, bicubic"), m);
    }
}
