package dev.hrda.tensor;

import dev.hrda.autograd.F;
import dev.hrda.backend.Backend;
import dev.hrda.backend.Backends;
import dev.hrda.backend.Box;
import dev.hrda.backend.CpuBackend;
import dev.hrda.kernels.NativeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** Ownership rules, the allocation counter, dtype conversion and readable native errors. */
class TensorMemoryTest {
    static Backend be;

    @BeforeAll static void setUp() { be = new CpuBackend(); }

    @AfterAll static void tearDown() { be.close(); }

    @Test void arenaFreesEverythingItAdopted() {
        long before = MemoryStats.liveAllocations(Device.CPU), bytes = MemoryStats.liveBytes(Device.CPU);
        Tensor kept;
        try (Arena a = Arena.open()) {
            Tensor x = Tensor.zeros(be, DType.F32, 3, 5);
            F.add(x, x);
            kept = Arena.persistent(() -> Tensor.zeros(be, DType.F32, 7));
            assertEquals(2, a.size());
            assertEquals(before + 3, MemoryStats.liveAllocations(Device.CPU));
            assertEquals(bytes + (15 + 15 + 7) * 4, MemoryStats.liveBytes(Device.CPU));
        }
        assertEquals(before + 1, MemoryStats.liveAllocations(Device.CPU), "only the persistent tensor is left");
        kept.close();
        kept.close();  // idempotent
        assertTrue(kept.isFreed());
        assertEquals(before, MemoryStats.liveAllocations(Device.CPU));
        assertThrows(IllegalStateException.class, kept::address, "use after free is refused");
    }

    @Test void longLoopDoesNotGrow() {
        long before = MemoryStats.liveBytes(Device.CPU);
        try (Arena step = Arena.open()) {
            for (int i = 0; i < 50; i++) {
                Tensor x = Tensor.full(be, DType.F32, i, 64, 64);
                F.gelu(F.add(x, x));
                step.reset();
                assertEquals(before, MemoryStats.liveBytes(Device.CPU), "iteration " + i);
            }
        }
    }

    @Test void viewsShareMemoryAndDoNotFree() {
        try (Tensor t = Tensor.of(be, new float[] {1, 2, 3, 4, 5, 6}, 2, 3)) {
            Tensor v = t.view(3, -1);
            assertArrayEquals(new int[] {3, 2}, v.shape());
            v.close();
            assertFalse(t.isFreed());
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, t.toFloatArray());
            assertThrows(IllegalArgumentException.class, () -> t.view(4, 2));
        }
    }

    @Test void conversionsRoundTrip() {
        float[] x = {1.0f, -2.5f, 3.14159f, 65504f, 1e-3f};
        try (Arena a = Arena.open()) {
            Tensor f = Tensor.of(be, x, 5);
            for (DType d : new DType[] {DType.BF16, DType.F16, DType.F64}) {
                Tensor c = Tensor.empty(be, d, 5);
                be.convert(f, c);
                float[] back = c.toFloatArray();
                double rel = d == DType.BF16 ? 1.0 / 256 : d == DType.F16 ? 1.0 / 2048 : 0;
                for (int i = 0; i < x.length; i++) assertEquals(x[i], back[i], Math.abs(x[i]) * rel + 1e-7, d + " element " + i);
            }
        }
    }

    @Test void nativeErrorsNameTheOpAndTheProblem() {
        try (Arena a = Arena.open()) {
            Tensor x = Tensor.zeros(be, DType.F32, 1, 2, 4, 4), y = Tensor.zeros(be, DType.F32, 1, 2, 4, 4);
            NativeException e = assertThrows(NativeException.class, () ->
                    be.copyBox(x, y, new Box(1, 2, 4, 4, 0, 2, 0, 2, 4, 4, 0, 0, 0, 2, 3, 4), false));
            assertTrue(e.getMessage().contains("copy_box") && e.getMessage().contains("outside source"), e.getMessage());
            int[] bad = {0, 1, 7, 255};
            Tensor logits = Tensor.zeros(be, DType.F32, 1, 3, 2, 2);
            Tensor labels = Tensor.of(be, bad, 1, 2, 2);
            NativeException ce = assertThrows(NativeException.class, () -> F.crossEntropy(logits, labels, null, 255));
            assertTrue(ce.getMessage().contains("has value 7"), ce.getMessage());
            NativeException u = assertThrows(NativeException.class, () -> be.activation(dev.hrda.backend.Activation.GELU,
                    Tensor.zeros(be, DType.BF16, 4), Tensor.zeros(be, DType.BF16, 4)));
            assertTrue(u.getMessage().contains("not supported on the CPU"), u.getMessage());
        }
    }

    @Test void cudaRequestFailsWithAReasonWhereItCannotLoad() {
        org.junit.jupiter.api.Assumptions.assumeFalse(dev.hrda.kernels.CudaRuntime.probe().usable(),
                "CUDA is usable here, so there is no failure to explain");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Backends.create("cuda"));
        assertTrue(e.getMessage().startsWith("--device cuda: "), e.getMessage());
        assertTrue(e.getMessage().length() > "--device cuda: ".length() + 10, "says why: " + e.getMessage());
        try (Backend auto = Backends.create("auto")) {
            assertEquals(Device.CPU, auto.device(), "auto falls back to the CPU");
        }
    }
}
