package dev.hrda.cli;

import dev.hrda.io.CheckpointException;
import dev.hrda.io.CheckpointInfo;
import dev.hrda.model.ModelConfig;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** The model a command works on: named with --model, or recognised from a checkpoint's names and shapes. */
final class ModelChoice {
    private ModelChoice() {}

    /**
     * {@code name} when given, else the model the checkpoint's tensors describe (printed, so the
     * user sees what was chosen).
     * @throws CheckpointException naming the file when its tensors describe no known model
     */
    static ModelConfig of(Path checkpoint, String name) {
        if (name != null) return ModelConfig.named(name);
        try {
            ModelConfig c = recognise(checkpoint);
            System.out.println("model recognised from the checkpoint's names and shapes: " + c.name() + " (--model to choose another)");
            return c;
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(checkpoint, "model not recognised: " + e.getMessage());
        }
    }

    /** @throws IllegalArgumentException when the tensors describe no known model */
    static ModelConfig recognise(Path checkpoint) {
        Map<String, int[]> shapes = new LinkedHashMap<>();
        for (CheckpointInfo.Entry e : CheckpointInfo.of(checkpoint).entries()) shapes.put(e.name(), e.shape());
        return ModelConfig.guess(shapes);
    }
}
