package dev.hrda.tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * Scratch scope for one step: every tensor allocated on this thread while the arena is the
 * innermost open one belongs to it and is freed, in reverse order, when the arena closes.
 * Tensors made outside any arena (parameters, optimizer state) are owned by their creator.
 *
 * <pre>{@code
 * try (Arena step = Arena.open()) {
 *     Tensor loss = model.forward(batch);  // activations land in `step`
 *     tape.backward(loss);
 * }                                        // all of them are freed here
 * }</pre>
 */
public final class Arena implements AutoCloseable {
    private static final ThreadLocal<ArrayDeque<Arena>> OPEN = ThreadLocal.withInitial(ArrayDeque::new);

    private final List<Tensor> owned = new ArrayList<>();
    private boolean closed;

    private Arena() {}

    public static Arena open() {
        Arena a = new Arena();
        OPEN.get().push(a);
        return a;
    }

    /** The innermost open arena of this thread, or null. */
    public static Arena current() {
        return OPEN.get().peek();
    }

    /**
     * Runs {@code body} with no arena active, so that what it allocates is persistent (e.g. a
     * parameter's gradient created lazily during a step).
     */
    public static <T> T persistent(java.util.function.Supplier<T> body) {
        ArrayDeque<Arena> saved = OPEN.get();
        OPEN.set(new ArrayDeque<>());
        try {
            return body.get();
        } finally {
            OPEN.set(saved);
        }
    }

    void adopt(Tensor t) {
        if (closed) throw new IllegalStateException("arena is closed");
        owned.add(t);
    }

    /**
     * Closes this arena, handing the tensors {@code survives} accepts to the enclosing arena
     * (or to the caller if there is none) and freeing the others now.
     */
    public void closeKeeping(Predicate<Tensor> survives) {
        Arena parent = parent();
        for (int i = owned.size() - 1; i >= 0; i--) {
            Tensor t = owned.get(i);
            if (t.isFreed()) continue;
            if (survives.test(t)) {
                if (parent != null) parent.owned.add(t);
            } else {
                t.free();
            }
        }
        owned.clear();
        close();
    }

    private Arena parent() {
        boolean below = false;
        for (Arena a : OPEN.get()) {  // innermost first
            if (below) return a;
            below = a == this;
        }
        return null;
    }

    /**
     * Whether this arena adopted {@code t} (a tensor allocated while it was innermost, or handed
     * to it by a closing inner arena). Searched from the most recent, where a caller's tensors are.
     */
    public boolean holds(Tensor t) {
        for (int i = owned.size() - 1; i >= 0; i--) if (owned.get(i) == t) return true;
        return false;
    }

    /** Tensors still held by this arena. */
    public int size() {
        return owned.size();
    }

    /** Frees the tensors of this arena but keeps it open (for a loop that reuses one arena). */
    public void reset() {
        for (int i = owned.size() - 1; i >= 0; i--) owned.get(i).free();
        owned.clear();
    }

    @Override
    public void close() {
        if (closed) return;
        reset();
        closed = true;
        ArrayDeque<Arena> stack = OPEN.get();
        if (stack.peek() != this) {
            stack.remove(this);
            throw new IllegalStateException("arenas must be closed innermost first");
        }
        stack.pop();
    }
}
