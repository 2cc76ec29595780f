package dev.hrda.io;

import dev.hrda.data.DataException;

import java.nio.file.Path;

/**
 * A checkpoint that cannot be read, written or loaded. The message names the file and, where
 * one is at fault, the tensor or the pickle global. Extends {@link DataException} so that
 * {@link dev.hrda.data.AtomicFiles} passes it through unchanged.
 */
public class CheckpointException extends DataException {
    public CheckpointException(Path path, String what) {
        super(path, what);
    }

    public CheckpointException(Path path, String what, Throwable cause) {
        super(path, what, cause);
    }
}
