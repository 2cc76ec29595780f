package dev.hrda.data;

import org.bytedeco.opencv.global.opencv_core;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.Semaphore;

/**
 * Background workers producing items (batches) ahead of the consumer, delivered in index
 * order, at most {@code prefetch} ahead: worker threads claim indices 0, 1, 2, ... while a
 * permit is free, produce them, and the consumer takes them in order. Since each item is a
 * pure function of its index (its random numbers come from the seed and the index), the
 * sequence does not depend on the number of workers or on timing.
 *
 * A worker's exception is rethrown by {@link #next()} at the index where it happened.
 * close() stops the workers and closes items produced but not taken.
 */
public final class Loader<T extends AutoCloseable> implements AutoCloseable {
    /** Produces item {@code index}; must depend on nothing but the index (and fixed state). */
    @FunctionalInterface
    public interface Producer<T> {
        T produce(long index) throws Exception;
    }

    private final Producer<T> producer;
    private final long count;
    private final Semaphore permits;
    private final List<Thread> threads = new ArrayList<>();
    private final Map<Long, Object> ready = new HashMap<>(); // T or Failure
    private long nextClaim;
    private long nextTake;
    private volatile boolean closed;
    private long produced;
    private Runnable onClose;

    private record Failure(Throwable error) {}

    /**
     * @param count    number of items (-1: endless)
     * @param workers  worker threads (>= 1)
     * @param prefetch items produced ahead of the consumer (>= 1), bounds memory
     */
    public Loader(Producer<T> producer, long count, int workers, int prefetch, String name) {
        if (workers < 1 || prefetch < 1) throw new IllegalArgumentException("workers and prefetch must be >= 1");
        this.producer = producer;
        this.count = count;
        this.permits = new Semaphore(prefetch);
        opencv_core.setNumThreads(1); // parallelism comes from the workers
        for (int i = 0; i < workers; i++) {
            Thread t = new Thread(this::work, name + "-" + i);
            t.setDaemon(true);
            threads.add(t);
        }
        threads.forEach(Thread::start);
    }

    private void work() {
        while (!closed) {
            try {
                permits.acquire();
            } catch (InterruptedException e) {
                return;
            }
            long idx;
            synchronized (this) {
                if (closed || (count >= 0 && nextClaim >= count)) {
                    permits.release();
                    return;
                }
                idx = nextClaim++;
            }
            Object result;
            try {
                result = producer.produce(idx);
            } catch (Throwable t) {
                result = new Failure(t);
            }
            synchronized (this) {
                if (closed) {
                    closeQuietly(result);
                    return;
                }
                ready.put(idx, result);
                produced++;
                notifyAll();
            }
        }
    }

    /** Runs r after close() has stopped the workers (e.g. frees a buffer pool). */
    public Loader<T> onClose(Runnable r) {
        this.onClose = r;
        return this;
    }

    public boolean hasNext() {
        return count < 0 || nextTake < count;
    }

    /** The next item in index order; blocks until it is ready. */
    @SuppressWarnings("unchecked")
    public T next() {
        if (!hasNext()) throw new NoSuchElementException("loader exhausted after " + count + " items");
        Object r;
        synchronized (this) {
            while (!ready.containsKey(nextTake)) {
                if (closed) throw new IllegalStateException("loader closed");
                try {
                    wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for data", e);
                }
            }
            r = ready.remove(nextTake);
            nextTake++;
        }
        permits.release();
        if (r instanceof Failure f) {
            Throwable t = f.error();
            if (t instanceof DataException de) throw new DataException(de.path(), stripPath(de), de);
            if (t instanceof RuntimeException re) throw re;
            throw new IllegalStateException("data loader failed: " + t, t);
        }
        return (T) r;
    }

    private static String stripPath(DataException de) {
        String m = de.getMessage(), p = de.path() + ": ";
        return m.startsWith(p) ? m.substring(p.length()) : m;
    }

    /** Items produced so far (taken or waiting). */
    public synchronized long produced() { return produced; }

    /** Items produced but not yet taken. */
    public synchronized int waiting() { return ready.size(); }

    @Override
    public void close() {
        List<Object> left;
        synchronized (this) {
            if (closed) return;
            closed = true;
            left = new ArrayList<>(ready.values());
            ready.clear();
            notifyAll();
        }
        for (Thread t : threads) t.interrupt();
        for (Thread t : threads) {
            try {
                t.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        left.forEach(Loader::closeQuietly);
        if (onClose != null) onClose.run();
    }

    private static void closeQuietly(Object o) {
        if (o instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception ignored) {
                // nothing useful to do on shutdown
            }
        }
    }
}
