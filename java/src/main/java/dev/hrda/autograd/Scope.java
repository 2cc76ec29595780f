package dev.hrda.autograd;

import dev.hrda.tensor.Arena;
import dev.hrda.tensor.Tensor;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Frees a module's intermediate tensors as soon as its forward returns, as PyTorch's reference
 * counting does: at {@link #close()}, every tensor made inside the scope is freed unless it
 * was {@link #keep kept} (the module's results) or a pending backward step of the recording tape
 * reads it (then it is freed right after that step ran). Without a tape (inference, the EMA
 * teacher, a checkpointed forward) only the kept tensors survive.
 *
 * <p>A module may also free an intermediate right after its last reader with {@link #done}, so
 * that inference holds only its live working set and training only that and what the tape reads
 * (what PyTorch's reference counting frees while a module still runs), not every activation of
 * the module until it returns.
 *
 * <pre>{@code
 * try (Scope s = Scope.open()) {
 *     Tensor h = F.relu(bn.forward(conv.forward(x)));
 *     return s.keep(conv2.forward(h));
 * }
 * }</pre>
 */
public final class Scope implements AutoCloseable {
    private final Arena arena = Arena.open();
    private final Set<Tensor> kept = Collections.newSetFromMap(new IdentityHashMap<>());

    private Scope() {}

    public static Scope open() {
        return new Scope();
    }

    /** Marks a result that outlives the scope; returns it. */
    public Tensor keep(Tensor t) {
        kept.add(t.owner());
        return t;
    }

    public List<Tensor> keep(List<Tensor> ts) {
        for (Tensor t : ts) keep(t);
        return ts;
    }

    /**
     * Declares that no forward code reads {@code t} any more: it is freed now if the innermost
     * open arena made it (so a caller's tensor, a parameter or a view is never freed here) and no
     * pending backward step reads it; if one does (training), it is freed right after the last
     * such step has run, as {@link #close()} would. So training, too, holds only what the backward
     * pass needs plus the live forward working set, not every intermediate of the enclosing
     * scope (a ConvModule's BN output, which the ReLU's backward does not read, goes at once).
     * Call it only on a tensor the calling code made itself and will not return, and never while
     * another view of it is still read.
     *
     * <pre>{@code
     * Tensor y = conv.forward(x);
     * Tensor z = bn.forward(y);
     * Scope.done(y);          // inference: y's memory is reusable before the ReLU runs
     * return F.relu(z);
     * }</pre>
     */
    public static void done(Tensor t) {
        if (t == null || t.isView() || t.isFreed()) return;
        Arena a = Arena.current();
        if (a == null || !a.holds(t)) return;
        Tape tape = Tape.current();
        if (tape != null && tape.isSaved(t)) tape.markDead(t);  // freed right after the last backward step that reads it
        else t.close();
    }

    /**
     * {@code next}, computed from {@code prev}, which nothing reads any more: {@code prev} is
     * {@link #done} unless the op returned it unchanged (a layer chain's step, e.g. conv → BN → ReLU).
     */
    public static Tensor replaced(Tensor prev, Tensor next) {
        if (next != prev) done(prev);
        return next;
    }

    /** {@link #done(Tensor)} for each tensor of a list. */
    public static void done(List<Tensor> ts) {
        for (Tensor t : ts) done(t);
    }

    @Override
    public void close() {
        Tape tape = Tape.current();
        arena.closeKeeping(t -> {
            if (kept.contains(t)) return true;
            if (tape == null || !tape.isSaved(t)) return false;
            tape.markDead(t);
            return true;
        });
    }
}
