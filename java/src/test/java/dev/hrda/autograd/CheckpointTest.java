package dev.hrda.autograd;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.nn.BatchNorm2d;
import dev.hrda.nn.Conv2d;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import dev.hrda.testing.GradCheck;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** F.checkpoint gives the same values and gradients as running the function itself. */
class CheckpointTest {
    /** conv -> BN (training) -> ReLU -> dropout2d -> conv, with parameters. */
    private static double[][] run(Backend be, boolean checkpoint, Tensor x, Conv2d c1, BatchNorm2d bn, Conv2d c2) {
        UnaryOperator<Tensor> f = z -> c2.forward(F.dropout2d(F.relu(bn.forward(c1.forward(z))), 0.3f, true));
        c1.zeroGrad();
        bn.zeroGrad();
        c2.zeroGrad();
        try (Arena a = Arena.open(); Tape tape = Tape.record()) {
            F.seed(5);
            if (!checkpoint) F.seed(F.nextSeed());  // the stream F.checkpoint gives f: the same dropout masks
            x.grad = null;
            Tensor y = checkpoint ? F.checkpoint(f, x) : f.apply(x);
            Tensor w = GradCheck.random(be, new Random(9), y.shape());
            w.requiresGrad = false;
            double[] out = y.toDoubleArray();
            tape.backward(F.sum(F.mul(y, w)));
            double[][] r = {out, x.grad.toDoubleArray(), c1.weight.grad.toDoubleArray(), bn.weight.grad.toDoubleArray(),
                            c2.bias.grad.toDoubleArray(), bn.runningMean.toDoubleArray(), bn.runningVar.toDoubleArray()};
            x.grad = null;
            return r;
        }
    }

    @Test void checkpointEqualsThePlainFunction() {
        try (Backend be = new CpuBackend()) {
            Random r = new Random(1);
            Tensor x = Arena.persistent(() -> GradCheck.random(be, r, 2, 3, 9, 11));
            try (Conv2d c1 = new Conv2d(be, DType.F64, 3, 6, 3, 1, 1, 1, 1, true, r);
                 BatchNorm2d bn = new BatchNorm2d(be, DType.F64, 6);
                 Conv2d c2 = new Conv2d(be, DType.F64, 6, 4, 1, 1, 0, 1, 1, true, r)) {
                double[][] plain = run(be, false, x, c1, bn, c2);
                // running statistics moved once by the plain run; reset them to compare the second update
                bn.runningMean.copyFrom(new double[6]);
                bn.runningVar.copyFrom(new double[] {1, 1, 1, 1, 1, 1});
                double[][] cp = run(be, true, x, c1, bn, c2);
                String[] what = {"output", "dx", "dW1", "dgamma", "db2", "running mean", "running var"};
                for (int i = 0; i < plain.length; i++) assertArrayEquals(plain[i], cp[i], 1e-12, what[i]);
                assertTrue(plain[1].length > 0);
            } finally {
                x.close();
            }
        }
    }

    @Test void checkpointGradientsMatchFiniteDifferences() {
        try (Backend be = new CpuBackend(); Arena a = Arena.open()) {
            Random r = new Random(2);
            Tensor x = GradCheck.random(be, r, 2, 5, 4);
            Tensor w = GradCheck.random(be, r, 4, 4);
            w.requiresGrad = false;  // f may capture parameters (see the F.checkpoint contract), not other differentiable tensors
            GradCheck.check("checkpoint(dropout(gelu(x W)))", List.of(x),
                            in -> F.checkpoint(z -> F.dropout(F.gelu(F.linear(z, w, null)), 0.2f, true), in.get(0)),
                            40, 3);
        }
    }
}
