package dev.hrda.testing;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.backend.CudaBackend;
import dev.hrda.kernels.CudaRuntime;
import dev.hrda.tensor.MemoryStats;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

import java.util.Arrays;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Base of the CUDA-vs-CPU parity tests: a CPU backend and a CUDA backend per test, skipped with
 * the probe's reason where CUDA is not usable, and a check that every test returns the live
 * allocations to where they started. {@code -Dhrda.parity.selftest=true} puts a second CPU
 * backend in CUDA's place, to check the tests themselves on a machine without a GPU.
 */
public abstract class GpuParity {
    public static final boolean SELF_TEST = Boolean.getBoolean("hrda.parity.selftest");

    protected Backend cpu;
    protected Backend gpu;
    private MemoryStats.Snapshot start;

    /** Skips the calling test unless CUDA is usable (or this is a self-test). */
    public static void assumeGpu() {
        assumeTrue(SELF_TEST || CudaRuntime.probe().usable(), () -> "CUDA not usable: " + CudaRuntime.probe().reason());
    }

    /** The backend that stands for the GPU: CUDA device 0, or a CPU backend in a self-test. */
    public static Backend openGpu() {
        return SELF_TEST ? new CpuBackend() : new CudaBackend(0);
    }

    /** Runs op {@code runs} times and requires bit-identical outputs every time (the determinism tests). */
    public static void assertSameBits(String name, int runs, Supplier<float[][]> op) {
        float[][] first = op.get();
        for (int run = 1; run < runs; run++) {
            float[][] again = op.get();
            for (int i = 0; i < first.length; i++) {
                if (!Arrays.equals(first[i], again[i])) {
                    int at = Arrays.mismatch(first[i], again[i]);
                    fail(name + " [output " + i + "]: run " + run + " differs from run 0 at element " + at + ": "
                         + again[i][at] + " vs " + first[i][at]);
                }
            }
        }
    }

    @BeforeEach
    void openBackends() {
        assumeGpu();
        cpu = new CpuBackend();
        gpu = openGpu();
        start = MemoryStats.Snapshot.take();
    }

    @AfterEach
    void closeBackends() {
        if (gpu == null) return;  // skipped
        try {
            gpu.synchronize();
            assertEquals(start, MemoryStats.Snapshot.take(), "live allocations must return to their starting values (leak in a backend op?)");
        } finally {
            gpu.close();
            cpu.close();
        }
    }
}
