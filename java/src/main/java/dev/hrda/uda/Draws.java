package dev.hrda.uda;

import dev.hrda.model.CropBox;
import dev.hrda.model.Segmentor;

/**
 * Every random choice of one training iteration outside the data loader, asked for by the loop
 * when it needs it: the dropout/drop-path seed, HRDA's detail crop of each student pass, the
 * ClassMix class sets, the strong augmentation of the mixed and of the masked images, and MIC's
 * block mask. {@link SeedPlan} draws them from (seed, iteration), so a run is reproducible and
 * resumes bit for bit; a test can give fixed ones (the golden iteration).
 */
public interface Draws {
    /** The three student forward passes of a DACS iteration. */
    enum Pass { SOURCE, MIX, MASKED }

    /** Seed of the iteration's dropout and drop-path masks ({@link dev.hrda.autograd.F#seed}). */
    long dropoutSeed();

    /** HRDA's detail crop for a pass over an h x w batch (null for a single-scale model). */
    CropBox detailBox(Pass pass, Segmentor model, int h, int w);

    /** Per sample, the classes ClassMix takes from the source (a subset of {@code present}, ascending). */
    int[][] classMix(int[] present, int batch);

    /** The strong augmentation of the mixed ({@link Pass#MIX}) or masked ({@link Pass#MASKED}) images. */
    StrongAugment.Params augment(Pass pass, StrongAugment augment, int batch);

    /** MIC's block keep grid for a batch of h x w images. */
    BlockMask.Grid blockMask(int batch, int h, int w, double maskRatio, int blockSize);
}
