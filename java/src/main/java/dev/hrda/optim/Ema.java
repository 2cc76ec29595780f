package dev.hrda.optim;

import dev.hrda.backend.Backend;
import dev.hrda.tensor.Tensor;

import java.util.List;

/**
 * The DACS teacher update: at iteration 0 the teacher's parameters are copied from the
 * student; afterwards teacher = a*teacher + (1-a)*student with a = min(1 - 1/(iter+1), alpha).
 * Parameters only (buffers are not averaged), one fused launch.
 */
public final class Ema {
    private final Backend backend;
    private final List<Tensor> teacher;
    private final List<Tensor> student;
    private final float alpha;

    public Ema(Backend backend, List<Tensor> teacher, List<Tensor> student, float alpha) {
        if (teacher.size() != student.size()) throw new IllegalArgumentException("teacher and student differ in parameter count");
        for (int i = 0; i < teacher.size(); i++) {
            if (teacher.get(i).numel() != student.get(i).numel()) {
                throw new IllegalArgumentException("EMA shape mismatch at " + student.get(i).describe() + " vs " + teacher.get(i).describe());
            }
        }
        this.backend = backend;
        this.teacher = teacher;
        this.student = student;
        this.alpha = alpha;
    }

    public static double alphaAt(long iter, double alpha) {
        return Math.min(1 - 1.0 / (iter + 1), alpha);
    }

    public void update(long iter) {
        if (iter == 0) {
            for (int i = 0; i < teacher.size(); i++) backend.copy(student.get(i), teacher.get(i));
            return;
        }
        backend.ema(teacher, student, (float) alphaAt(iter, alpha));
    }
}
