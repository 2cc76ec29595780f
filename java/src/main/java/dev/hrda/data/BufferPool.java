package dev.hrda.data;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reuses batch host buffers (pinned allocation is slow): a closed batch hands its buffers
 * back, the next batch of the same size takes them. close() frees everything, including
 * buffers handed back later.
 */
public final class BufferPool implements Batch.BufferSource, AutoCloseable {
    private final boolean pinned;
    private final Map<Long, ArrayDeque<HostBuffer>> free = new HashMap<>();
    private final List<HostBuffer> all = new ArrayList<>();
    private boolean closed;

    public BufferPool(boolean pinned) {
        this.pinned = pinned;
    }

    @Override
    public synchronized HostBuffer acquire(long bytes) {
        if (closed) throw new IllegalStateException("buffer pool closed");
        ArrayDeque<HostBuffer> q = free.get(bytes);
        if (q != null && !q.isEmpty()) return q.pop();
        HostBuffer b = HostBuffer.allocate(bytes, pinned);
        all.add(b);
        return b;
    }

    @Override
    public synchronized void release(HostBuffer b) {
        if (closed) {
            b.close();
            return;
        }
        free.computeIfAbsent(b.bytes(), k -> new ArrayDeque<>()).push(b);
    }

    /** Buffers allocated so far (for tests and statistics). */
    public synchronized int allocated() { return all.size(); }

    @Override
    public synchronized void close() {
        closed = true;
        for (HostBuffer b : all) b.close();
        all.clear();
        free.clear();
    }
}
