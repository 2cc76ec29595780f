package dev.hrda.io;

/**
 * How a checkpoint is loaded into a model: strict or not, and which UDA sub-model.
 *
 * <ul>
 * <li>strict: fail, loading nothing, unless every model tensor is found with its shape and every
 *     file tensor has a place (those skipped on purpose aside). Non-strict loads what matches
 *     (the MiT ImageNet initialisation) but still fails if nothing does.</li>
 * <li>source: the sub-model taken from a DACS checkpoint: "model" (the student, the default),
 *     "ema_model" (the teacher) or "imnet_model".</li>
 * </ul>
 */
public final class LoadOptions {
    private final boolean strict;
    private final String source;

    private LoadOptions(boolean strict, String source) {
        this.strict = strict;
        this.source = source;
    }

    public static LoadOptions strict() { return new LoadOptions(true, null); }

    public static LoadOptions nonStrict() { return new LoadOptions(false, null); }

    /**
     * The same options taking sub-model {@code sub} ("model", "ema_model", "imnet_model") from a
     * DACS checkpoint; null: the default choice (as without this call).
     */
    public LoadOptions withSource(String sub) { return new LoadOptions(strict, sub); }

    public boolean isStrict() { return strict; }

    /** The requested UDA sub-model, or null for the default ("model"). */
    public String source() { return source; }

    @Override
    public String toString() { return (strict ? "strict" : "non-strict") + (source == null ? "" : ", source " + source); }
}
