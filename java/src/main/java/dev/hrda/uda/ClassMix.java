package dev.hrda.uda;

import dev.hrda.backend.Backend;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.Arrays;
import java.util.random.RandomGenerator;

/**
 * DACS's ClassMix (dacs_transforms.py get_class_masks, generate_class_mask, one_mix; dacs.py
 * forward_train). The classes are those of the whole source label batch, 255 included when
 * present (torch.unique(labels) over the batch, not per image); each sample takes ceil(n / 2) of
 * them without replacement (np.random.choice(n, (n + n % 2) / 2, replace=False)); its mask is the
 * source pixels whose label is chosen. Mixed image = mask ? source : target, label = mask ? source
 * label : pseudo-label, pixel weight = mask ? 1 : pseudo weight.
 */
public final class ClassMix {
    private ClassMix() {}

    /** Mixed batch: image [B, C, H, W], label i32 [B, H, W], weight [B, H, W], mask u8 [B, H, W] or null. */
    public record Mixed(Tensor image, Tensor label, Tensor weight, Tensor mask) implements AutoCloseable {
        @Override
        public void close() {
            if (mask != null) mask.close();
            weight.close();
            label.close();
            image.close();
        }
    }

    /** The distinct label values of the whole batch, ascending (torch.unique). Labels must lie in 0..255. */
    public static int[] presentClasses(Backend backend, Tensor labels) {
        Checks.requireDType(labels, DType.I32, "labels");
        int[] words;
        try (Tensor present = Tensor.empty(backend, DType.I32, 9)) {
            backend.labelPresence(labels, present);
            words = present.toIntArray();
        }
        if (words[8] != 0) {
            throw new IllegalArgumentException(Integer.toUnsignedString(words[8]) + " label(s) outside 0..255 in "
                                               + labels.describe() + ": ClassMix sets hold label values 0..255");
        }
        int[] classes = new int[256];
        int n = 0;
        for (int v = 0; v < 256; v++) if ((words[v >>> 5] >>> (v & 31) & 1) != 0) classes[n++] = v;
        return Arrays.copyOf(classes, n);
    }

    /** Per sample, ceil(n / 2) of the n classes, chosen uniformly without replacement; each set ascending. */
    public static int[][] chooseClasses(RandomGenerator rng, int[] classes, int batch) {
        int n = classes.length, k = (n + n % 2) / 2;
        int[][] chosen = new int[batch][];
        for (int i = 0; i < batch; i++) {
            int[] pool = classes.clone();
            for (int j = 0; j < k; j++) {  // partial Fisher-Yates: the first k of a random permutation
                int r = j + rng.nextInt(n - j);
                int t = pool[j];
                pool[j] = pool[r];
                pool[r] = t;
            }
            chosen[i] = Arrays.copyOf(pool, k);
            Arrays.sort(chosen[i]);
        }
        return chosen;
    }

    /** The chosen classes as 256-bit sets, i32 [batch, 8] (bit v % 32 of word v / 32). */
    public static int[] bitsets(int[][] chosen) {
        int[] words = new int[chosen.length * 8];
        for (int i = 0; i < chosen.length; i++) {
            for (int v : chosen[i]) {
                if (v < 0 || v > 255) throw new IllegalArgumentException("class " + v + " of sample " + i + " is outside 0..255");
                words[i * 8 + (v >>> 5)] |= 1 << (v & 31);
            }
        }
        return words;
    }

    /**
     * Mixes source and target: srcImage, tgtImage [B, C, H, W]; srcLabel, pseudoLabel i32 [B, H, W];
     * pseudoWeight [B, H, W] of the image dtype; chosen[i] the classes of sample i. The outputs are
     * new tensors (adopted by the open arena, if any).
     */
    public static Mixed mix(Backend backend, Tensor srcImage, Tensor tgtImage, Tensor srcLabel, Tensor pseudoLabel,
                            Tensor pseudoWeight, int[][] chosen, boolean withMask) {
        Checks.requireRank(srcImage, 4, "source images");
        Checks.requireFloat(srcImage, "source images");
        int b = srcImage.dim(0), c = srcImage.dim(1), h = srcImage.dim(2), w = srcImage.dim(3);
        Checks.requireShape(tgtImage, "target images", b, c, h, w);
        Checks.requireDType(tgtImage, srcImage.dtype(), "target images");
        Checks.requireShape(srcLabel, "source labels", b, h, w);
        Checks.requireDType(srcLabel, DType.I32, "source labels");
        Checks.requireShape(pseudoLabel, "pseudo-labels", b, h, w);
        Checks.requireDType(pseudoLabel, DType.I32, "pseudo-labels");
        Checks.requireShape(pseudoWeight, "pseudo weights", b, h, w);
        Checks.requireDType(pseudoWeight, srcImage.dtype(), "pseudo weights");
        if (chosen.length != b) throw new IllegalArgumentException(chosen.length + " class sets for a batch of " + b);
        Tensor image = Tensor.empty(backend, srcImage.dtype(), b, c, h, w);
        Tensor label = Tensor.empty(backend, DType.I32, b, h, w);
        Tensor weight = Tensor.empty(backend, srcImage.dtype(), b, h, w);
        Tensor mask = withMask ? Tensor.empty(backend, DType.U8, b, h, w) : null;
        try (Tensor sets = Tensor.of(backend, bitsets(chosen), b, 8)) {
            backend.classMix(sets, srcImage, tgtImage, srcLabel, pseudoLabel, pseudoWeight, image, label, weight, mask, b, c, h, w);
        } catch (RuntimeException e) {
            new Mixed(image, label, weight, mask).close();
            throw e;
        }
        return new Mixed(image, label, weight, mask);
    }
}
