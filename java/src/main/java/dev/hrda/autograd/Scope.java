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
