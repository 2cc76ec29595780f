package dev.hrda.tensor;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The CPU caching allocator: blocks come back to the next tensor of their size, the live
 * counters stay exact (idle blocks are not allocations), its footprint stays within what it has
 * needed, and emptyCache() returns the idle memory.
 */
class MemoryPoolTest {
    static Backend be;

    @BeforeAll static void setUp() { be = new CpuBackend(); }

    @AfterAll static void tearDown() { be.close(); }

    @Test void stepReusesItsPredecessorsBlocks() {
        int[][] shapes = {{2, 64, 128, 128}, {2, 256, 64, 64}, {3, 333, 77}, {2, 64, 128, 128}};
        long[] first = new long[shapes.length];
        long allocs = MemoryStats.liveAllocations(Device.CPU), bytes = MemoryStats.liveBytes(Device.CPU);
        for (int step = 0; step < 3; step++) {
            long hits0 = MemoryPool.counters()[0];
            try (Arena a = Arena.open()) {
                for (int i = 0; i < shapes.length; i++) {
                    Tensor t = Tensor.empty(be, DType.F32, shapes[i]);
                    if (step == 0) first[i] = t.address();
                    else assertEquals(first[i], t.address(), "step " + step + " tensor " + i + " gets the block of step 0");
                }
                assertEquals(allocs + shapes.length, MemoryStats.liveAllocations(Device.CPU), "live tensors counted exactly");
            }
            assertEquals(allocs, MemoryStats.liveAllocations(Device.CPU));
            assertEquals(bytes, MemoryStats.liveBytes(Device.CPU), "idle blocks are not live bytes");
            if (step > 0) assertEquals(shapes.length, MemoryPool.counters()[0] - hits0, "every request of a repeated step hits");
        }
        assertTrue(MemoryPool.cachedBytes() >= 2L * (2 * 64 * 128 * 128 * 4), "the blocks are kept");
        assertTrue(MemoryPool.emptyCache() > 0);
        assertEquals(0, MemoryPool.cachedBytes());
    }

    @Test void smallTensorsBypassThePool() {
        long idle = MemoryPool.cachedBytes();
        Tensor.zeros(be, DType.F32, 100).close();
        assertEquals(idle, MemoryPool.cachedBytes());
    }

    @Test void footprintStaysWithinWhatWasNeeded() {
        MemoryPool.emptyCache();
        long base = MemoryPool.pooledLiveBytes();
        // sizes that never repeat: every request misses, and the idle blocks of earlier sizes are
        // freed instead of piling up
        for (int i = 0; i < 40; i++) {
            Tensor.empty(be, DType.F32, 1 << 20).close();
            try (Tensor t = Tensor.empty(be, DType.F32, (1 << 18) + 1024 * i)) {
                // live peak: base + 4 MiB; idle blocks may add a quarter of it (-Dhrda.pool.slack), and one request
                assertTrue(MemoryPool.reservedPeak() <= 1.25 * (base + (1L << 22)) + 2L * 4 * ((1 << 18) + 1024 * 40), "iteration " + i);
            }
        }
        assertTrue(MemoryPool.counters()[2] > 0, "blocks were evicted");
        MemoryPool.emptyCache();
    }

    @Test void reusedMemoryIsStaleNotZero() {
        // the pool makes no promise of zeros: Tensor.empty is uninitialised, zeros() fills
        try (Tensor a = Tensor.full(be, DType.F32, 7, 1 << 16)) {
            assertEquals(7.0, a.toFloatArray()[12345]);
        }
        try (Tensor z = Tensor.zeros(be, DType.F32, 1 << 16)) {
            for (float v : z.toFloatArray()) assertEquals(0f, v);
        }
        MemoryPool.emptyCache();
    }
}
