package dev.hrda.eval;

import java.util.List;
import java.util.Locale;

/**
 * mmseg 0.16 {@code eval_metrics(..., metrics=['mIoU'])} from data-set-wide counts, in percent
 * as mmseg prints them: IoU_c = ΣI_c/ΣU_c, Acc_c = ΣI_c/Σlabel_c, aAcc = ΣI/Σlabel over all
 * classes, mIoU and mAcc the mean over the classes that are not NaN (numpy's nanmean). A class
 * is NaN where its denominator is 0: IoU when it is neither labelled nor predicted, Acc when it
 * is not labelled.
 *
 * @param iou per-class IoU in percent (NaN: class absent from labels and predictions)
 * @param acc per-class accuracy in percent (NaN: class absent from labels)
 */
public record SegMetrics(List<String> classNames, double[] iou, double[] acc, double aAcc, double mIoU, double mAcc) {

    public SegMetrics {
        if (iou.length != classNames.size() || acc.length != classNames.size()) {
            throw new IllegalArgumentException(classNames.size() + " class names for " + iou.length + " classes");
        }
    }

    public static SegMetrics of(ConfusionMatrix m, List<String> classNames) {
        int k = m.numClasses();
        if (classNames.size() != k) throw new IllegalArgumentException(classNames.size() + " class names for " + k + " classes");
        double[] iou = new double[k], acc = new double[k];
        long intersect = 0, labelled = 0;
        for (int c = 0; c < k; c++) {
            iou[c] = percent(m.intersection(c), m.union(c));
            acc[c] = percent(m.intersection(c), m.labelled(c));
            intersect += m.intersection(c);
            labelled += m.labelled(c);
        }
        return new SegMetrics(List.copyOf(classNames), iou, acc, percent(intersect, labelled), nanMean(iou), nanMean(acc));
    }

    private static double percent(long part, long whole) {
        return whole == 0 ? Double.NaN : 100.0 * part / whole;
    }

    /** Mean of the values that are not NaN; NaN if all are. */
    static double nanMean(double[] values) {
        double sum = 0;
        int n = 0;
        for (double v : values) {
            if (Double.isNaN(v)) continue;
            sum += v;
            n++;
        }
        return n == 0 ? Double.NaN : sum / n;
    }

    /** Mean IoU (percent, NaN skipped) over a subset of classes, e.g. the 16 Synthia classes. */
    public double meanIoU(int[] classes) {
        double[] sub = new double[classes.length];
        for (int i = 0; i < classes.length; i++) sub[i] = iou[classes[i]];
        return nanMean(sub);
    }

    /** mmseg's per-class table (Class, IoU, Acc) and summary (aAcc, mIoU, mAcc), two decimals, "nan" where undefined. */
    public String table() {
        int width = "Class".length();
        for (String n : classNames) width = Math.max(width, n.length());
        String rule = "+" + "-".repeat(width + 2) + "+-------+-------+\n";
        StringBuilder sb = new StringBuilder("per class results:\n").append(rule);
        sb.append(String.format(Locale.ROOT, "| %-" + width + "s |  IoU  |  Acc  |\n", "Class")).append(rule);
        for (int c = 0; c < iou.length; c++) {
            sb.append(String.format(Locale.ROOT, "| %-" + width + "s | %5s | %5s |\n", classNames.get(c), twoDecimals(iou[c]), twoDecimals(acc[c])));
        }
        sb.append(rule).append("Summary:\n+-------+-------+-------+\n|  aAcc |  mIoU |  mAcc |\n+-------+-------+-------+\n");
        sb.append(String.format(Locale.ROOT, "| %5s | %5s | %5s |\n", twoDecimals(aAcc), twoDecimals(mIoU), twoDecimals(mAcc)));
        return sb.append("+-------+-------+-------+").toString();
    }

    static String twoDecimals(double v) {
        return Double.isNaN(v) ? "nan" : String.format(Locale.ROOT, "%.2f", v);
    }
}
