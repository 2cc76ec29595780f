package dev.hrda.data;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Checks that a train-id label map holds only 0..18 and 255. */
public final class LabelCheck {
    private LabelCheck() {}

    /** Number of pixels with values outside 0..18 and 255. */
    public static long countInvalid(byte[] trainIds) {
        long n = 0;
        for (byte b : trainIds) {
            int v = b & 0xFF;
            if (v >= LabelMaps.NUM_CLASSES && v != LabelMaps.IGNORE) n++;
        }
        return n;
    }

    /** Null if valid, else e.g. "6131 pixels (1.17%) with values outside 0-18 and 255 (19, 20, 27, ...)". */
    public static String describeInvalid(byte[] trainIds) {
        long[] hist = new long[256];
        for (byte b : trainIds) hist[b & 0xFF]++;
        long bad = 0;
        List<Integer> values = new ArrayList<>();
        for (int v = LabelMaps.NUM_CLASSES; v < 255; v++) {
            if (hist[v] > 0) {
                bad += hist[v];
                values.add(v);
            }
        }
        if (bad == 0) return null;
        StringBuilder sb = new StringBuilder();
        sb.append(bad).append(" pixels (").append(String.format("%.2f%%", 100.0 * bad / trainIds.length))
          .append(") with values outside 0-18 and 255 (");
        for (int i = 0; i < Math.min(values.size(), 8); i++) sb.append(i > 0 ? ", " : "").append(values.get(i));
        if (values.size() > 8) sb.append(", ... ").append(values.size()).append(" distinct values");
        sb.append(")");
        return sb.toString();
    }

    /** Throws a {@link DataException} naming the file if the map holds invalid values. */
    public static void require(Path file, byte[] trainIds) {
        String why = describeInvalid(trainIds);
        if (why != null) {
            throw new DataException(file, "train-id label refused: " + why
                                          + "; was it resized with a smoothing filter instead of nearest neighbour?");
        }
    }

    /** Values outside 0..18 become 255. Returns how many pixels changed. */
    public static long invalidToIgnore(byte[] trainIds) {
        long n = 0;
        for (int i = 0; i < trainIds.length; i++) {
            int v = trainIds[i] & 0xFF;
            if (v >= LabelMaps.NUM_CLASSES && v != LabelMaps.IGNORE) {
                trainIds[i] = (byte) LabelMaps.IGNORE;
                n++;
            }
        }
        return n;
    }
}
