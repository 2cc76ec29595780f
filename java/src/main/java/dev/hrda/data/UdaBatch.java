package dev.hrda.data;

/** One UDA step's data: labelled source batch and unlabelled target batch (with validity mask; null in source-only training). */
public record UdaBatch(Batch source, Batch target) implements AutoCloseable {
    @Override
    public void close() {
        source.close();
        if (target != null) target.close();
    }
}
