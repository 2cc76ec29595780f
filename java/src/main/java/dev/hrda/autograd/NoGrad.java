package dev.hrda.autograd;

/**
 * A region in which nothing is recorded on the tape (torch.no_grad): the EMA teacher's
 * pseudo-labels and the ImageNet model's features inside a training iteration whose tape is
 * open. Ops run as in inference: no backward step, no activation kept for one; a {@link Scope}
 * inside frees every intermediate that is not its result.
 *
 * <pre>{@code
 * try (NoGrad g = NoGrad.open()) {
 *     logits = teacher.encodeDecode(target);
 * }
 * }</pre>
 */
public final class NoGrad implements AutoCloseable {
    private final AutoCloseable resume;
    private boolean closed;

    private NoGrad() {
        resume = Tape.suspend();
    }

    public static NoGrad open() {
        return new NoGrad();
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            resume.close();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
