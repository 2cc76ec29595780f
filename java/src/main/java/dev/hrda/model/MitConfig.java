package dev.hrda.model;

import java.util.Arrays;

/**
 * A Mix Transformer (SegFormer's MiT) variant: hrda_spec.md §1. Four stages; stage i has
 * {@code embedDims[i]} channels, {@code depths[i]} blocks, {@code heads[i]} attention heads and
 * spatial reduction {@code srRatios[i]} of keys/values.
 *
 * @param dropPathRate stochastic depth, spread linearly from 0 over all blocks (0.1 in MiT)
 */
public record MitConfig(String name, int[] embedDims, int[] depths, int[] heads, int[] srRatios, int mlpRatio,
                        double dropPathRate, int inChannels) implements BackboneConfig {

    @Override
    public int[] channels() {
        return embedDims.clone();
    }

    public MitConfig {
        for (int[] a : new int[][] {embedDims, depths, heads, srRatios}) {
            if (a.length != 4) throw new IllegalArgumentException(name + ": MiT has 4 stages, got " + Arrays.toString(a));
        }
        for (int i = 0; i < 4; i++) {
            if (embedDims[i] % heads[i] != 0) {
                throw new IllegalArgumentException(name + ": stage " + (i + 1) + " embed dim " + embedDims[i]
                                                   + " is not divisible by " + heads[i] + " heads");
            }
        }
    }

    private static final int[] WIDE = {64, 128, 320, 512};
    private static final int[] HEADS = {1, 2, 5, 8};
    private static final int[] SR = {8, 4, 2, 1};

    private static MitConfig wide(String name, int... depths) {
        return new MitConfig(name, WIDE, depths, HEADS, SR, 4, 0.1, 3);
    }

    /** mit_b0 … mit_b5 as in SegFormer / mmseg. */
    public static MitConfig named(String name) {
        return switch (name) {
            case "mit_b0" -> new MitConfig(name, new int[] {32, 64, 160, 256}, new int[] {2, 2, 2, 2}, HEADS, SR, 4, 0.1, 3);
            case "mit_b1" -> wide(name, 2, 2, 2, 2);
            case "mit_b2" -> wide(name, 3, 4, 6, 3);
            case "mit_b3" -> wide(name, 3, 4, 18, 3);
            case "mit_b4" -> wide(name, 3, 8, 27, 3);
            case "mit_b5" -> wide(name, 3, 6, 40, 3);
            // the test fixtures' encoder (tools/reference): head dim 16 at every stage
            case "mit_tiny" -> new MitConfig(name, new int[] {16, 32, 48, 64}, new int[] {2, 1, 1, 1}, new int[] {1, 2, 3, 4},
                                             SR, 4, 0.1, 3);
            default -> throw new IllegalArgumentException("unknown backbone '" + name + "' (mit_b0 … mit_b5, mit_tiny)");
        };
    }

    public int totalDepth() {
        return Arrays.stream(depths).sum();
    }
}
