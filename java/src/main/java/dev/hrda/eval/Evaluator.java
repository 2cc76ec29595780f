package dev.hrda.eval;

import dev.hrda.data.DataException;
import dev.hrda.data.Dataset;

import java.nio.file.Path;
import java.util.List;

/**
 * Evaluates a model image by image (images may differ in size): each is predicted at its
 * original resolution and counted against its ground truth; optionally the prediction is
 * written to a show directory. Metrics come from the counts of all images so far.
 *
 * <pre>{@code
 * Evaluator eval = new Evaluator(new Predictor(model, 2048, 1024), LabelMaps.CLASSES);
 * for (Dataset.Item item : dataset.items()) eval.add(item);
 * System.out.println(eval.metrics().table());
 * }</pre>
 */
public final class Evaluator {
    private final Predictor predictor;
    private final List<String> classNames;
    private final ConfusionMatrix matrix;
    private Path showDir;
    private Path showRoot;
    private int images;

    /** Evaluates over the classes named (their train ids are their indices). */
    public Evaluator(Predictor predictor, List<String> classNames) {
        this.predictor = predictor;
        this.classNames = List.copyOf(classNames);
        this.matrix = new ConfusionMatrix(classNames.size());
    }

    /** Also writes each prediction below {@code dir}, mirroring the image's path under {@code root} ({@link ShowResult}). */
    public Evaluator showingIn(Path dir, Path root) {
        this.showDir = dir;
        this.showRoot = root;
        return this;
    }

    /** Predicts one labelled image and adds it to the counts; returns the prediction. */
    public Predictor.Prediction add(Dataset.Item item) {
        if (item.label() == null) throw new DataException(item.image(), "image without label: evaluation needs the ground truth");
        Predictor.Prediction p = predictor.predict(item, showDir != null);
        matrix.add(p.classes(), p.label());
        if (showDir != null) ShowResult.write(p, showDir, showRoot);
        images++;
        return p;
    }

    /** Images added so far. */
    public int images() { return images; }

    public ConfusionMatrix matrix() { return matrix; }

    public SegMetrics metrics() {
        return SegMetrics.of(matrix, classNames);
    }
}
