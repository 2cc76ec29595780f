package dev.hrda.data;

import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * A data set's label ids to the 19 Cityscapes train ids; every id not in the map becomes
 * {@link LabelMaps#IGNORE}, as the original converters do. {@code maxDefinedId} is the largest
 * id the data set's own label definition has: ids above it are not even void classes, they are
 * unknown values (counted separately when converting).
 */
public final class LabelMap {
    private final String name;
    private final byte[] lut = new byte[65536];
    private final int maxDefinedId;
    private final Map<Integer, Integer> pairs;

    LabelMap(String name, int maxDefinedId, int... idTrainIdPairs) {
        this.name = name;
        this.maxDefinedId = maxDefinedId;
        Arrays.fill(lut, (byte) LabelMaps.IGNORE);
        TreeMap<Integer, Integer> m = new TreeMap<>();
        for (int i = 0; i < idTrainIdPairs.length; i += 2) {
            lut[idTrainIdPairs[i]] = (byte) idTrainIdPairs[i + 1];
            m.put(idTrainIdPairs[i], idTrainIdPairs[i + 1]);
        }
        this.pairs = java.util.Collections.unmodifiableMap(m);
    }

    public String name() { return name; }

    public int maxDefinedId() { return maxDefinedId; }

    /** id -> train id, in id order. */
    public Map<Integer, Integer> pairs() { return pairs; }

    /** Train id (0..18 or 255) of a label id. */
    public int trainId(int id) {
        return id < 0 || id >= lut.length ? LabelMaps.IGNORE : lut[id] & 0xFF;
    }

    /** Counts of what {@link #apply} did. */
    public record Result(byte[] trainIds, long ignored, long unknown) {}

    /** Maps raw ids (0..65535) to train ids. */
    public Result apply(int[] ids) {
        byte[] out = new byte[ids.length];
        long ignored = 0, unknown = 0;
        for (int i = 0; i < ids.length; i++) {
            int id = ids[i];
            byte t = lut[id & 0xFFFF];
            out[i] = t;
            if (t == (byte) LabelMaps.IGNORE) {
                ignored++;
                if (id > maxDefinedId) unknown++;
            }
        }
        return new Result(out, ignored, unknown);
    }

    @Override
    public String toString() { return "LabelMap(" + name + ")"; }
}
