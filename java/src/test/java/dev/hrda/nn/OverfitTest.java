package dev.hrda.nn;

import dev.hrda.autograd.F;
import dev.hrda.autograd.Tape;
import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.optim.AdamW;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.MemoryStats;
import dev.hrda.tensor.Device;
import dev.hrda.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A small conv net must memorise one fixed batch: the loss falls by at least 100x. */
class OverfitTest {
    /** conv3x3-BN-ReLU, dilated depthwise conv + 1x1, dropout2d, 1x1 classifier, bilinear upsampling. */
    static final class TinySegNet extends Module {
        final Conv2d c1, dw, pw, cls;
        final BatchNorm2d bn1, bn2;

        TinySegNet(Backend be, Random r, int classes) {
            super(be, DType.F32);
            c1 = child("conv1", new Conv2d(be, DType.F32, 3, 16, 3, 2, 1, 1, 1, false, r));
            bn1 = child("bn1", new BatchNorm2d(be, DType.F32, 16));
            dw = child("dw", new Conv2d(be, DType.F32, 16, 16, 3, 1, 2, 2, 16, true, r));
            pw = child("pw", new Conv2d(be, DType.F32, 16, 16, 1, 1, 0, 1, 1, false, r));
            bn2 = child("bn2", new BatchNorm2d(be, DType.F32, 16));
            cls = child("head.cls", new Conv2d(be, DType.F32, 16, classes, 1, 1, 0, 1, 1, true, r));
        }

        Tensor forward(Tensor x) {
            Tensor h = F.relu(bn1.forward(c1.forward(x)));
            h = F.gelu(bn2.forward(pw.forward(dw.forward(h))));
            h = F.dropout2d(h, 0.1f, training());
            return F.resize(cls.forward(h), x.dim(2), x.dim(3));
        }
    }

    @Test void smallConvNetOverfitsOneBatch() {
        long start = MemoryStats.liveAllocations(Device.CPU);
        try (Backend be = new CpuBackend()) {
            Random r = new Random(5);
            int n = 2, h = 18, w = 22, classes = 4;
            float[] img = new float[n * 3 * h * w];
            int[] lab = new int[n * h * w];
            for (int b = 0; b < n; b++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++) {
                        int cls = ((x / 6) + (y / 5) + b) % classes;
                        lab[(b * h + y) * w + x] = (x + y) % 13 == 0 ? 255 : cls;  // some ignored pixels
                        for (int c = 0; c < 3; c++) {
                            img[((b * 3 + c) * h + y) * w + x] = (float) (Math.sin(cls * 1.7 + c) + 0.3 * r.nextGaussian());
                        }
                    }
            F.seed(1);
            try (TinySegNet net = new TinySegNet(be, r, classes);
                 Tensor images = Tensor.of(be, img, n, 3, h, w);
                 Tensor labels = Tensor.of(be, lab, n, h, w);
                 AdamW opt = new AdamW(be, net.namedParameters(), 1e-2, 0.01, 0.9f, 0.999f, 1e-8f,
                                       List.of(new AdamW.Rule("head", 1f, 1f), new AdamW.Rule("bn", 1f, 0f)))) {
                double first = 0, last = 0;
                for (int it = 0; it < 300; it++) {
                    try (Arena step = Arena.open(); Tape tape = Tape.record()) {
                        Tensor loss = F.crossEntropy(net.forward(images), labels, null, 255);
                        tape.backward(loss);
                        opt.step(1.0);
                        opt.zeroGrad();
                        last = loss.item();
                        if (it == 0) first = last;
                    }
                }
                assertTrue(last * 100 <= first, "loss fell from " + first + " to " + last + " (need 100x)");
                assertEquals(List.of("conv1.weight", "bn1.weight", "bn1.bias", "dw.weight", "dw.bias", "pw.weight",
                                     "bn2.weight", "bn2.bias", "head.cls.weight", "head.cls.bias"),
                             List.copyOf(net.namedParameters().keySet()), "names compose like a PyTorch state_dict");
            }
        }
        assertEquals(start, MemoryStats.liveAllocations(Device.CPU));
    }
}
