package dev.hrda.uda;

/** A loss term became NaN or infinite: the run stops here, naming the iteration and the term. */
public final class NonFiniteLossException extends RuntimeException {
    public final long iteration;
    public final String term;
    public final double value;

    public NonFiniteLossException(long iteration, String term, double value) {
        super("iteration " + (iteration + 1) + ": loss term '" + term + "' is " + value
              + " (the parameters were not updated with it; --detect-anomaly names the op that produced it)");
        this.iteration = iteration;
        this.term = term;
        this.value = value;
    }
}
