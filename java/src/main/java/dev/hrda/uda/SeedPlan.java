package dev.hrda.uda;

import dev.hrda.data.UdaData;
import dev.hrda.model.CropBox;
import dev.hrda.model.Segmentor;

import java.util.SplittableRandom;

/**
 * The seed plan of a run: iteration i's draws are a pure function of (seed, i), each kind from
 * its own stream, so that switching a component off (MIC, blur) does not change the others'
 * draws, and a resumed run draws exactly what the uninterrupted one would have. The data loader
 * uses its own function of (seed, i) ({@link UdaData#batch}). Saving the seed and the iteration
 * with a checkpoint is therefore all the RNG state a run has.
 */
public record SeedPlan(long seed) {
    // stream salts: one per kind of draw
    private static final long DROPOUT = 0x5EED_D0D0L, BOX = 0xB0C5L, CLASSMIX = 0xC1A55L, AUGMENT = 0xA06L, MASK = 0x3A5CL;

    /** The draws of iteration {@code iter}. */
    public Draws at(long iter) {
        return new Draws() {
            @Override
            public long dropoutSeed() {
                return stream(DROPOUT, 0, iter).nextLong();
            }

            @Override
            public CropBox detailBox(Pass pass, Segmentor model, int h, int w) {
                return model.randomDetailBox(h, w, stream(BOX, pass.ordinal(), iter));
            }

            @Override
            public int[][] classMix(int[] present, int batch) {
                return ClassMix.chooseClasses(stream(CLASSMIX, 0, iter), present, batch);
            }

            @Override
            public StrongAugment.Params augment(Pass pass, StrongAugment augment, int batch) {
                return augment.draw(stream(AUGMENT, pass.ordinal(), iter), batch);
            }

            @Override
            public BlockMask.Grid blockMask(int batch, int h, int w, double maskRatio, int blockSize) {
                return BlockMask.draw(stream(MASK, 0, iter), batch, h, w, maskRatio, blockSize);
            }
        };
    }

    private SplittableRandom stream(long salt, int sub, long iter) {
        return UdaData.rng(seed ^ (salt * 0x9E3779B97F4A7C15L + sub), iter);
    }
}
