package dev.hrda.autograd;

import dev.hrda.tensor.Arena;
import dev.hrda.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reverse-mode autograd as a tape: while a tape is recording on this thread, every op in
 * {@link F} whose inputs require gradients pushes a backward closure; {@link #backward}
 * replays them in reverse order. A module applied several times (HRDA runs the encoder on the
 * context and the detail crop) simply records several closures: parameter gradients accumulate.
 * Without a tape (teacher forward, evaluation) nothing is recorded and no activation is kept.
 */
public final class Tape implements AutoCloseable {
    private static final ThreadLocal<Tape> CURRENT = new ThreadLocal<>();

    private final List<Runnable> steps = new ArrayList<>();
    /** The tensor each step produced (null if unknown): its gradient is released after the step. */
    private final List<Tensor> outputs = new ArrayList<>();
    /** What each step's backward reads (memory owners: a view counts as its base). */
    private final List<Tensor[]> saves = new ArrayList<>();
    /** How many pending steps read each tensor. */
    private final Map<Tensor, Integer> saveCounts = new IdentityHashMap<>();
    /** Tensors whose {@link Scope} has ended: freed as soon as the last step that reads them ran. */
    private final Set<Tensor> dead = Collections.newSetFromMap(new IdentityHashMap<>());
    /** How to recompute an activation the tape may drop (see {@link #recomputable}). */
    private final Map<Tensor, Recipe> recipes = new IdentityHashMap<>();
    private final Tape previous;
    private boolean closed;
    /** -Dhrda.tape.sites=true: where each step was recorded (the op and its caller), for {@link #savedBytesBySite}. */
    private static final boolean SITES = Boolean.getBoolean("hrda.tape.sites");
    private final List<String> sites = SITES ? new ArrayList<>() : null;
    /** -Dhrda.tape.trace=true (with hrda.tape.sites): the live CPU bytes after each backward step, by its site, on stdout. */
    private static final boolean DEBUG_TRACE = Boolean.getBoolean("hrda.tape.trace");

    private Tape(Tape previous) {
        this.previous = previous;
    }

    /** Starts recording on this thread until {@link #close()}. */
    public static Tape record() {
        Tape t = new Tape(CURRENT.get());
        CURRENT.set(t);
        return t;
    }

    /** The recording tape if one of the inputs requires a gradient, else null. */
    static Tape active(Tensor... inputs) {
        Tape t = CURRENT.get();
        if (t == null) return null;
        for (Tensor x : inputs) if (x != null && x.requiresGrad) return t;
        return null;
    }

    /** The tape recording on this thread, or null. */
    static Tape current() {
        return CURRENT.get();
    }

    /** Stops recording on this thread until the returned handle is closed (checkpoint forwards). */
    static AutoCloseable suspend() {
        Tape saved = CURRENT.get();
        CURRENT.remove();
        return () -> {
            if (saved != null) CURRENT.set(saved);
        };
    }

    /** Whether a tape is recording on this thread. */
    public static boolean recording() {
        return CURRENT.get() != null;
    }

    /**
     * Records a backward step and the tensors it will read (its inputs, outputs or saved
     * statistics; null entries are ignored). Whatever a step reads must be listed: a
     * {@link Scope} frees what no pending step reads, and a step that reads an unlisted tensor
     * then fails with "use of a freed tensor".
     */
    void push(Runnable backwardStep, Tensor... reads) {
        steps.add(backwardStep);
        outputs.add(null);
        if (sites != null) sites.add(site());
        Tensor[] owners = new Tensor[reads.length];
        for (int i = 0; i < reads.length; i++) {
            if (reads[i] == null) continue;
            owners[i] = reads[i].owner();
            saveCounts.merge(owners[i], 1, Integer::sum);
        }
        saves.add(owners);
    }

    /** "F.op <- Caller.method:line": the autograd op that recorded a step and the first frame outside the autograd package (for a layer, also the first outside the layers). */
    private static String site() {
        StackTraceElement[] st = new Throwable().getStackTrace();
        String op = "?";
        for (StackTraceElement e : st) {
            if (e.getClassName().startsWith("dev.hrda.autograd.")) {
                if (!e.getClassName().equals(Tape.class.getName())) op = e.getClassName().substring("dev.hrda.autograd.".length()) + "." + e.getMethodName();
                continue;
            }
            String site = op + " <- " + frame(e);
            if (!e.getClassName().startsWith("dev.hrda.nn.")) return site;
            for (StackTraceElement m : st) {  // a layer's op: also the model code that called the layer
                String c = m.getClassName();
                if (c.startsWith("dev.hrda.") && !c.startsWith("dev.hrda.nn.") && !c.startsWith("dev.hrda.autograd.")) return site + " <- " + frame(m);
            }
            return site;
        }
        return op;
    }

    private static String frame(StackTraceElement e) {
        String cls = e.getClassName();
        return cls.substring(cls.lastIndexOf('.') + 1) + "." + e.getMethodName() + ":" + e.getLineNumber();
    }

    /**
     * The bytes the pending steps keep alive for the backward pass, by the site that recorded the
     * step (each tensor counted once, at the first step that saved it), largest first. Needs
     * -Dhrda.tape.sites=true (a diagnostic: it takes a stack trace per recorded op).
     */
    public Map<String, Long> savedBytesBySite() {
        if (sites == null) throw new IllegalStateException("run with -Dhrda.tape.sites=true to record the sites");
        Map<String, Long> by = new java.util.HashMap<>();
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (int i = 0; i < saves.size(); i++) {
            Tensor[] owners = saves.get(i);
            if (owners == null) continue;
            for (Tensor o : owners) {
                if (o == null || o.isParam || o.isFreed() || !seen.add(o)) continue;
                by.merge(sites.get(i), o.bytes(), Long::sum);
            }
        }
        Map<String, Long> sorted = new java.util.LinkedHashMap<>();
        by.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue(), a.getValue())).forEach(e -> sorted.put(e.getKey(), e.getValue()));
        return sorted;
    }

    /** Whether a pending backward step reads {@code t} (or the tensor it is a view of). */
    boolean isSaved(Tensor t) {
        return saveCounts.containsKey(t.owner());
    }

    /**
     * A tensor no forward code uses any more: free it once no pending step reads it. If it is
     * {@link #recomputable} and what it is recomputed from still lives, its memory goes now and the
     * backward pass recomputes it when a step first reads it.
     */
    void markDead(Tensor t) {
        Tensor o = t.owner();
        dead.add(o);
        Recipe r = recipes.get(o);
        if (r == null || r.dropped || !saveCounts.containsKey(o)) return;
        for (Tensor s : r.sources) if (s.isFreed() && !isDropped(s)) return;  // its inputs are gone: keep it
        for (Tensor s : r.sources) saveCounts.merge(s, 1, Integer::sum);    // they stay until it was read for the last time
        r.dropped = true;
        o.dropStorage();
    }

    /**
     * Declares that {@code y} (an owner) can be recomputed from {@code sources} by {@code recompute},
     * which returns a fresh tensor equal to y bit for bit (no tape records meanwhile). The backward
     * pass then does not keep y alive from the forward: see {@link F#recomputable}.
     */
    void recomputable(Tensor y, java.util.function.Supplier<Tensor> recompute, Tensor... sources) {
        Tensor[] owners = new Tensor[sources.length];
        for (int i = 0; i < sources.length; i++) owners[i] = sources[i].owner();
        recipes.put(y.owner(), new Recipe(recompute, owners));
    }

    private boolean isDropped(Tensor o) {
        Recipe r = recipes.get(o);
        return r != null && r.dropped && o.isFreed();
    }

    /** Gives a dropped activation its memory back, recomputed (its dropped sources first). */
    private void restore(Tensor o) {
        if (!isDropped(o)) return;
        Recipe r = recipes.get(o);
        for (Tensor s : r.sources) restore(s);
        Tensor[] again = new Tensor[1];
        try (AutoCloseable paused = suspend()) {
            Arena scratch = Arena.open();  // the recomputation's intermediates go at once
            try {
                again[0] = r.recompute.get().owner();
            } finally {
                scratch.closeKeeping(t -> t == again[0]);
            }
        } catch (Exception e) {
            throw e instanceof RuntimeException re ? re : new IllegalStateException(e);
        }
        o.takeStorage(again[0]);  // `again` is left empty: whichever arena lists it skips it
    }

    private void unsave(Tensor[] owners) {
        for (Tensor o : owners) {
            if (o == null) continue;
            int left = saveCounts.merge(o, -1, Integer::sum);
            if (left > 0) continue;
            saveCounts.remove(o);
            if (dead.remove(o)) o.close();
            Recipe r = recipes.remove(o);
            if (r != null && r.dropped) unsave(r.sources);
        }
    }

    private static final class Recipe {
        final java.util.function.Supplier<Tensor> recompute;
        final Tensor[] sources;
        /** Whether the tensor's memory was dropped (then its sources are counted as saved). */
        boolean dropped;

        Recipe(java.util.function.Supplier<Tensor> recompute, Tensor[] sources) {
            this.recompute = recompute;
            this.sources = sources;
        }
    }

    /** Names the output of the step pushed last. */
    void producedBy(Tensor output) {
        outputs.set(outputs.size() - 1, output);
    }

    public int size() {
        return steps.size();
    }

    /**
     * Seeds d(loss)/d(loss) = 1 (times {@code scale}) and runs every recorded backward step in
     * reverse. The tape is empty afterwards, so a second loss needs a second forward.
     */
    public void backward(Tensor loss, double scale) {
        if (loss.numel() != 1) throw new IllegalArgumentException("backward needs a scalar loss, got " + loss.describe());
        backward(loss, Tensor.full(loss.backend(), loss.dtype(), scale, loss.shape()));
    }

    /** Backpropagates {@code grad} = d(something)/d(output) through every recorded step. */
    public void backward(Tensor output, Tensor grad) {
        if (!output.requiresGrad) throw new IllegalStateException("output does not depend on any parameter (nothing was recorded)");
        if (output.grad == null) output.grad = grad;
        else output.backend().axpby(1, output.grad, 1, grad, output.grad);
        for (int i = steps.size() - 1; i >= 0; i--) {
            if (sites != null) dev.hrda.tensor.MemoryStats.doing("the backward step of " + sites.get(i));
            if (!recipes.isEmpty()) for (Tensor o : saves.get(i)) if (o != null) restore(o);
            steps.get(i).run();
            if (DEBUG_TRACE && sites != null) System.out.printf("TRACE %5d MiB %s%n", dev.hrda.tensor.MemoryStats.liveBytes(dev.hrda.tensor.Device.CPU) >> 20, sites.get(i));
            steps.set(i, null);  // let closures (and what they hold) go as soon as they ran
            releaseGrad(outputs.get(i));
            outputs.set(i, null);
            unsave(saves.get(i));
            saves.set(i, null);
        }
        steps.clear();
        outputs.clear();
        saves.clear();
        recipes.clear();
        if (sites != null) {
            sites.clear();
            dev.hrda.tensor.MemoryStats.doing(null);
        }
    }

    public void backward(Tensor loss) {
        backward(loss, 1.0);
    }

    /**
     * Once the step that produced {@code y} has run, every consumer of y has added its share
     * to y.grad and the producer has passed it on: nothing reads it again, so its memory goes
     * back now instead of at the end of the step (without this, a backward pass holds a
     * gradient for every activation at once). Leaves (inputs, parameters) are never outputs.
     */
    private static void releaseGrad(Tensor y) {
        if (y == null || y.isParam || y.grad == null) return;
        Tensor g = y.grad;
        y.grad = null;
        g.release();
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (sites != null) sites.clear();
        steps.clear();
        outputs.clear();
        saves.clear();
        saveCounts.clear();
        recipes.clear();
        dead.clear();  // still owned by their arenas, which free them
        if (CURRENT.get() == this) {
            if (previous == null) CURRENT.remove();
            else CURRENT.set(previous);
        }
    }

    /**
     * Makes sure {@code t.grad} exists and says whether a kernel should add to it (true) or may
     * overwrite it (false, freshly allocated). Parameter gradients are persistent and zeroed by
     * the optimizer, so they are always accumulated into.
     */
    static boolean prepareGrad(Tensor t) {
        if (t.grad != null) return true;
        if (t.isParam) {
            t.grad = Arena.persistent(() -> Tensor.zeros(t.backend(), t.dtype(), t.shape()));
            return true;
        }
        t.grad = Tensor.empty(t.backend(), t.dtype(), t.shape());
        return false;
    }
}
