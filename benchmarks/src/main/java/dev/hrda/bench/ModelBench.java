package dev.hrda.bench;

import dev.hrda.autograd.Tape;
import dev.hrda.backend.Backend;
import dev.hrda.backend.Backends;
import dev.hrda.model.CropBox;
import dev.hrda.model.HrdaEncoderDecoder;
import dev.hrda.model.ModelConfig;
import dev.hrda.model.Segmentor;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.MemoryStats;
import dev.hrda.tensor.Tensor;
import org.openjdk.jmh.annotations.*;

import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * One training forward+backward of a whole network, and its activation memory (the peak of
 * device memory above the parameters, printed at tear-down):
 * <ul>
 * <li>{@code daformer_mitb5}: MiT-B5 + DAFormer head on a 512² crop (DAFormer's training step);</li>
 * <li>{@code hrda_mitb5}: HRDA on a 1024² crop: context 512² + detail 512² through the shared
 *     encoder, both heads, scale attention, fusion, both losses.</li>
 * </ul>
 * Batch 2 (samples_per_gpu), f32. Run: {@code java -jar benchmarks.jar ModelBench -p device=cuda}.
 * On the 2-core CPU one iteration takes tens of seconds: {@code -p model=daformer_mitb0} is quicker.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@State(Scope.Benchmark)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgsAppend = {"-Dorg.bytedeco.javacpp.maxPhysicalBytes=0"})
public class ModelBench {
    @Param({"cpu"})
    public String device;

    @Param({"daformer_mitb5", "hrda_mitb5"})
    public String model;

    @Param({"2"})
    public int batch;

    /** mmseg's with_cp: recompute each encoder block and the heads' ASPP in the backward pass. */
    @Param({"false"})
    public boolean withCp;

    Backend be;
    Segmentor net;
    Tensor img, label;
    long paramBytes, peakActivation;

    @Setup
    public void setUp() {
        be = Backends.create(device);
        ModelConfig c = ModelConfig.named(model);
        net = Segmentor.create(be, DType.F32, c, 0);
        net.useCheckpoint(withCp);
        int size = c.isHrda() ? 2 * c.hrda().hrCropSize() : 512;
        Random r = new Random(1);
        float[] x = new float[batch * 3 * size * size];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        int[] y = new int[batch * size * size];
        for (int i = 0; i < y.length; i++) y[i] = r.nextInt(20) == 0 ? 255 : r.nextInt(c.numClasses());
        img = Arena.persistent(() -> Tensor.of(be, x, batch, 3, size, size));
        label = Arena.persistent(() -> Tensor.of(be, y, batch, size, size));
        paramBytes = MemoryStats.liveBytes(be.device());
    }

    @Benchmark
    public double forwardBackward() {
        MemoryStats.resetPeak(be.device());
        double loss;
        try (Arena a = Arena.open(); Tape tape = Tape.record()) {
            Tensor l = net instanceof HrdaEncoderDecoder h
                    ? h.losses(h.forwardTrainParts(img, new CropBox(256, 256, 512, 512)), label, null).total()
                    : net.forwardTrain(img, label, null, (CropBox) null).losses().total();
            tape.backward(l);
            be.synchronize();
            loss = l.item();
        }
        peakActivation = Math.max(peakActivation, MemoryStats.peakBytes(be.device()) - paramBytes);
        return loss;
    }

    @TearDown
    public void tearDown() {
        System.out.printf("%n[ModelBench] %s on %s, batch %d, with_cp %s: parameters, gradients, batch %.1f MiB, peak activations %.1f MiB%n",
                          model, device, batch, withCp, paramBytes / 1048576.0, peakActivation / 1048576.0);
        img.close();
        label.close();
        net.close();
        be.close();
    }
}
