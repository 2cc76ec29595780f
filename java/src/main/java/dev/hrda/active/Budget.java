package dev.hrda.active;

import java.math.BigDecimal;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A RIPU labelling budget per image: "2.2%" (RA, ACTIVE.RATIO = 0.022 of the pixels over all rounds)
 * or "40px" (PA, ACTIVE.PIXELS = 40 per image at the 1280x640 training resolution over all rounds).
 * Resolved per image and round as build.py does:
 * <ul>
 * <li>RA: regions = ceil(H*W * (ratio / rounds) / (2k+1)^2), evaluated in float32 as there (the
 *     collated int64 size tensor times a Python float gives a float32 tensor);</li>
 * <li>PA: pixels = ceil(PIXELS / rounds / (1280*640) * (H*W)) in double (build.py writes 2048*1024
 *     for H*W: the same for Cityscapes).</li>
 * </ul>
 */
public record Budget(Kind kind, double value, String text) {
    /** RA's region ratio or PA's pixel count. */
    public enum Kind { RATIO, PIXELS }

    /** The training resolution PA's pixel budget refers to (build.py). */
    public static final long PA_REFERENCE_PIXELS = 1280L * 640;

    private static final Pattern FORM = Pattern.compile("\\s*([0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)\\s*(%|px)\\s*");

    public Budget {
        if (kind == null) throw new IllegalArgumentException("budget kind must not be null");
        if (!(value > 0) || Double.isInfinite(value)) throw new IllegalArgumentException("budget '" + text + "' must be positive and finite");
        if (kind == Kind.RATIO && value > 1) throw new IllegalArgumentException("budget '" + text + "' is above 100% of the pixels");
    }

    /** Parses "2.2%" or "40px" (decimal, positive); the error names the value. */
    public static Budget parse(String s) {
        if (s == null) throw new IllegalArgumentException("budget must be given as e.g. \"2.2%\" or \"40px\", got null");
        Matcher m = FORM.matcher(s);
        if (!m.matches()) {
            throw new IllegalArgumentException("budget '" + s + "' is neither a percentage of the pixels (e.g. \"2.2%\", RA) "
                                               + "nor a pixel count per image (e.g. \"40px\", PA)");
        }
        BigDecimal v = new BigDecimal(m.group(1));
        if (m.group(2).equals("%")) return new Budget(Kind.RATIO, v.movePointLeft(2).doubleValue(), s.trim());
        if (v.stripTrailingZeros().scale() > 0) throw new IllegalArgumentException("budget '" + s + "': a pixel count must be whole");
        return new Budget(Kind.PIXELS, v.doubleValue(), s.trim());
    }

    /** RA: a fraction of the pixels (0.022 for "2.2%"). */
    public static Budget ratio(double fraction) {
        return new Budget(Kind.RATIO, fraction, BigDecimal.valueOf(fraction).movePointRight(2).stripTrailingZeros().toPlainString() + "%");
    }

    /** PA: pixels per image at 1280x640 over all rounds. */
    public static Budget pixels(int pixels) {
        return new Budget(Kind.PIXELS, pixels, pixels + "px");
    }

    /**
     * Picks per image in one of {@code rounds} rounds on an h x w map: RA regions of radius k, or PA
     * pixels (k unused).
     */
    public int picksPerRound(int h, int w, int rounds, int k) {
        if (h < 1 || w < 1) throw new IllegalArgumentException("map size " + h + "x" + w + " must be positive");
        if (rounds < 1) throw new IllegalArgumentException("rounds " + rounds + " must be at least 1");
        if (k < 0) throw new IllegalArgumentException("region radius k " + k + " must not be negative");
        long hw = (long) h * w;
        double n;
        if (kind == Kind.RATIO) {
            float perRound = (float) (value / rounds);
            long side = 2L * k + 1;
            n = (float) ((float) hw * perRound) / (float) (side * side);
        } else {
            n = value / rounds / PA_REFERENCE_PIXELS * hw;
        }
        double c = Math.ceil(n);
        if (c > Integer.MAX_VALUE) throw new IllegalArgumentException("budget '" + text + "' gives " + c + " picks per round");
        return (int) c;
    }

    /** The selector this budget goes with: RA regions of radius k, PA pixels with suppression radius k. */
    public RegionSelector selector(int k) {
        return kind == Kind.RATIO ? RegionSelector.regions(k) : RegionSelector.pixels(k);
    }
}
