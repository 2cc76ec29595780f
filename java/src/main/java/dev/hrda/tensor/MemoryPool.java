package dev.hrda.tensor;

import dev.hrda.backend.Backend;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * The CPU caching allocator under {@link Tensor} (and so under the arenas): a freed block of
 * native memory is kept, keyed by its exact size, and handed to the next tensor of that size,
 * so a training step, which allocates the same sizes in the same order as the step before it,
 * reuses the memory of its predecessor instead of mapping fresh pages (glibc maps every block
 * above its mmap threshold, up to 32 MiB, afresh and unmaps it on free; on a virtual machine a
 * freshly mapped region costs about 4x a reused one in page faults). PyTorch's caching
 * allocators do the same; its CPU one also keys by exact size.
 *
 * <ul>
 * <li>Only blocks of at least {@code -Dhrda.pool.minBytes} (default 64 KiB) are kept; smaller
 *     ones go straight back to malloc, which keeps them in its own bins.</li>
 * <li>The pool holds little more than it has needed: when a request misses while blocks of other
 *     sizes lie idle, and live + idle + the request would exceed the peak of the live bytes times
 *     1 + {@code -Dhrda.pool.slack} (default 0.25), the least recently used idle blocks are freed
 *     first. The slack lets a step that repeats its predecessor find most of its sizes idle
 *     (without it, each eviction makes the next miss).</li>
 * <li>{@link #emptyCache()} returns every idle block to the system (end of training, before a
 *     phase with other sizes: PyTorch's {@code torch.cuda.empty_cache()}).</li>
 * <li>{@code -Dhrda.pool=off} disables it (every tensor mallocs and frees).
 *     {@code -Dhrda.pool.poison=true} fills every reused block with NaN bytes (0xFF), for tests
 *     that would otherwise read stale values where they assume fresh memory.</li>
 * </ul>
 * {@link MemoryStats} still counts live tensors only (exact; the leak checks compare it): idle
 * blocks in the pool are not live allocations. The pool's own figures are here. The CUDA backend
 * has its own pool (cudaMallocAsync), so only CPU memory passes through this one.
 */
public final class MemoryPool {
    private static final boolean ENABLED = !"off".equals(System.getProperty("hrda.pool", "on"));
    private static final long MIN_BYTES = Long.getLong("hrda.pool.minBytes", 64 << 10);
    private static final boolean POISON = Boolean.getBoolean("hrda.pool.poison");
    /** Idle blocks may add this fraction of the peak live bytes before the least recently used are freed. */
    private static final double SLACK = Double.parseDouble(System.getProperty("hrda.pool.slack", "0.25"));

    /** An idle block: its address and the backend that allocated it (which frees it). */
    private record Block(long address, Backend backend) {}

    /** Idle blocks by size; per size, the most recently released last (reused first: warm in cache). */
    private static final Map<Long, ArrayDeque<Block>> IDLE = new HashMap<>();
    /** Per size, when a block of it was last released or reused (for the least-recently-used eviction). */
    private static final Map<Long, Long> LAST_USE = new HashMap<>();
    private static long clock;
    private static long cached, live, livePeak, reservedPeak, hits, misses, evictions;

    private MemoryPool() {}

    private static boolean pooled(Backend be, long bytes) {
        return ENABLED && be.device() == Device.CPU && bytes >= MIN_BYTES;
    }

    /** A block of at least bytes for a tensor. */
    static long allocate(Backend be, long bytes) {
        if (!pooled(be, bytes)) return be.malloc(bytes);
        synchronized (MemoryPool.class) {
            ArrayDeque<Block> idle = IDLE.get(bytes);
            if (idle != null && !idle.isEmpty()) {
                Block b = idle.pollLast();
                cached -= bytes;
                live += bytes;
                livePeak = Math.max(livePeak, live);
                hits++;
                LAST_USE.put(bytes, ++clock);
                if (POISON) Tensor.poison(be, b.address(), bytes);
                return b.address();
            }
            misses++;
            long limit = Math.max(live + bytes, (long) (livePeak * (1 + SLACK)));
            if (cached > 0 && live + cached + bytes > limit) evict(live + cached + bytes - limit);
        }
        long address;
        try {
            address = be.malloc(bytes);
        } catch (OutOfMemoryError e) {
            emptyCache();  // the idle blocks may be what stands in the way
            address = be.malloc(bytes);
        }
        synchronized (MemoryPool.class) {
            live += bytes;
            livePeak = Math.max(livePeak, live);
            reservedPeak = Math.max(reservedPeak, live + cached);
        }
        return address;
    }

    /** Takes back a tensor's block (bytes as allocated). */
    static void release(Backend be, long address, long bytes) {
        if (!pooled(be, bytes)) {
            be.free(address, bytes);
            return;
        }
        synchronized (MemoryPool.class) {
            IDLE.computeIfAbsent(bytes, k -> new ArrayDeque<>()).addLast(new Block(address, be));
            LAST_USE.put(bytes, ++clock);
            live -= bytes;
            cached += bytes;
        }
    }

    /** Frees idle blocks, least recently used sizes first, until at least bytes are freed or none is left. */
    private static void evict(long bytes) {
        while (bytes > 0 && cached > 0) {
            long oldest = -1, when = Long.MAX_VALUE;
            for (var e : IDLE.entrySet()) {
                if (!e.getValue().isEmpty() && LAST_USE.get(e.getKey()) < when) {
                    when = LAST_USE.get(e.getKey());
                    oldest = e.getKey();
                }
            }
            ArrayDeque<Block> q = IDLE.get(oldest);
            Block b = q.pollFirst();
            b.backend().free(b.address(), oldest);
            cached -= oldest;
            bytes -= oldest;
            evictions++;
            if (q.isEmpty()) {
                IDLE.remove(oldest);
                LAST_USE.remove(oldest);
            }
        }
    }

    /** Returns every idle block to the system; live tensors are not touched. Returns the bytes freed. */
    public static synchronized long emptyCache() {
        long freed = 0;
        for (Iterator<Map.Entry<Long, ArrayDeque<Block>>> it = IDLE.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            for (Block b : e.getValue()) {
                b.backend().free(b.address(), e.getKey());
                freed += e.getKey();
            }
            it.remove();
        }
        LAST_USE.clear();
        cached = 0;
        reservedPeak = live;
        livePeak = live;
        return freed;
    }

    /** Bytes of idle blocks held for reuse. */
    public static synchronized long cachedBytes() { return cached; }

    /** Bytes of pooled blocks in use by live tensors (tensors below the pooling threshold are not counted). */
    public static synchronized long pooledLiveBytes() { return live; }

    /** The largest live + idle footprint of the pooled blocks since the start or the last {@link #emptyCache()}. */
    public static synchronized long reservedPeak() { return reservedPeak; }

    /** {hits, misses, evictions} since the start. */
    public static synchronized long[] counters() { return new long[] {hits, misses, evictions}; }

    /** One line for logs: reserved, idle, hit rate. */
    public static synchronized String describe() {
        long n = hits + misses;
        return String.format(java.util.Locale.ROOT, "CPU pool: %.1f MiB in use, %.1f MiB idle, peak %.1f MiB, %d hits / %d requests (%.1f %%), %d evicted",
                             live / 1048576.0, cached / 1048576.0, reservedPeak / 1048576.0, hits, n, n == 0 ? 0.0 : 100.0 * hits / n,
                             evictions);
    }
}
