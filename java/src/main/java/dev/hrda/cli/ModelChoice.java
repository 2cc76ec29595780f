package dev.hrda.cli;

import dev.hrda.io.CheckpointException;
import dev.hrda.config.TrainConfig;
import dev.hrda.io.CheckpointInfo;
import dev.hrda.io.TensorFile;
import dev.hrda.model.ModelConfig;

import java.io.IOException;
import java.nio.file.Files;
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
        try {
            return ModelConfig.guess(shapes);
        } catch (IllegalArgumentException e) {
            ModelConfig fromConfig = fromTrainingConfig(checkpoint);
            if (fromConfig != null) return fromConfig;
            throw e;
        }
    }

    /**
     * The model of a checkpoint written by {@code hrda train}: its meta.config holds the merged
     * config (also a custom MixVisionTransformer, which names and shapes alone do not describe:
     * the head counts leave no trace in the shapes).
     */
    private static ModelConfig fromTrainingConfig(Path checkpoint) {
        String text = TensorFile.read(checkpoint).metadata().get("meta.config");
        if (text == null || text.isBlank()) return null;
        try {
            Path tmp = Files.createTempFile("hrda-checkpoint-config", ".yaml");
            try {
                Files.writeString(tmp, text);
                return TrainConfig.load(tmp).model().config();
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
