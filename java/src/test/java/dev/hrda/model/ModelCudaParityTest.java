package dev.hrda.model;

import dev.hrda.autograd.F;
import dev.hrda.autograd.Tape;
import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.io.Checkpoints;
import dev.hrda.io.LoadOptions;
import dev.hrda.io.StoredTensor;
import dev.hrda.io.TensorFile;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import dev.hrda.testing.GpuParity;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole tiny HRDA on CUDA (f32, fused attention, cuDNN/cuBLAS) against the CPU in f64 with
 * the same weights: a training step's loss, fused logits and every parameter gradient (dropout,
 * drop path and BatchNorm in training mode: both libraries draw the same masks for a seed).
 * Skipped without a usable GPU; {@code -Dhrda.parity.selftest=true} runs it with an f32 CPU
 * backend standing in for CUDA.
 */
@Tag("gpu")
class ModelCudaParityTest {
    record Step(double loss, float[] fused, Map<String, float[]> grads) {}

    private static Step trainingStep(Backend be, DType dtype, Path weights) {
        try (Segmentor s = Segmentor.create(be, dtype, ModelConfig.named("tiny_hrda"), 0); Arena a = Arena.open()) {
            HrdaEncoderDecoder m = (HrdaEncoderDecoder) s;
            Checkpoints.load(m, weights, LoadOptions.nonStrict());
            TensorFile f = TensorFile.read(weights);
            StoredTensor in = f.tensors().get("test.input");
            Tensor x = Tensor.empty(be, dtype, 2, 3, 128, 128);
            float[] two = new float[2 * (int) in.numel()];
            float[] one = in.toFloatArray();
            for (int i = 0; i < two.length; i++) two[i] = i < one.length ? one[i] : -0.5f * one[i - one.length];
            x.copyFrom(two);
            int[] lab = new int[2 * 128 * 128];
            for (int i = 0; i < lab.length; i++) lab[i] = (i / 128 % 37 == 0) ? 255 : (i * 7 / 128 + i % 128 / 19) % 5;
            Tensor label = Tensor.of(be, lab, 2, 128, 128);
            F.seed(3);
            try (Tape tape = Tape.record()) {
                var o = m.forwardTrainParts(x, new CropBox(32, 24, 64, 64));
                Tensor loss = m.losses(o, label, null).total();
                tape.backward(loss);
                Map<String, float[]> grads = new LinkedHashMap<>();
                m.namedParameters().forEach((k, v) -> grads.put(k, v.grad.toFloatArray()));
                return new Step(loss.item(), o.fused().toFloatArray(), grads);
            }
        }
    }

    private static void assertClose(String what, float[] ref, float[] got, double rel) {
        double scale = 0, err = 0;
        for (int i = 0; i < ref.length; i++) {
            scale = Math.max(scale, Math.abs(ref[i]));
            err = Math.max(err, Double.isNaN(got[i]) ? Double.POSITIVE_INFINITY : Math.abs(ref[i] - got[i]));
        }
        double s = scale, e = err;
        assertTrue(err <= rel * scale + 1e-7, () -> String.format("%s: max error %.3g vs max |ref| %.3g", what, e, s));
    }

    @Test void tinyHrdaTrainingStepMatchesTheCpu() throws Exception {
        GpuParity.assumeGpu();
        Path weights = Path.of(ModelCudaParityTest.class.getResource("/model/tiny_hrda.safetensors").toURI());
        Step ref, got;
        try (Backend cpu = new CpuBackend()) {
            ref = trainingStep(cpu, DType.F64, weights);
        }
        try (Backend gpu = GpuParity.openGpu()) {
            got = trainingStep(gpu, DType.F32, weights);
        }
        assertEquals(ref.loss(), got.loss(), 1e-5 * Math.abs(ref.loss()), "loss");
        assertClose("fused logits", ref.fused(), got.fused(), 1e-4);
        for (String name : ref.grads().keySet()) assertClose("d/d " + name, ref.grads().get(name), got.grads().get(name), 2e-3);
    }
}
