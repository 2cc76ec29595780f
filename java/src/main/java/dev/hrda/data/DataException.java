package dev.hrda.data;

import java.nio.file.Path;

/** A problem with a data file or directory; the message always names it. */
public class DataException extends RuntimeException {
    private final Path path;

    public DataException(Path path, String what) {
        super(path + ": " + what);
        this.path = path;
    }

    public DataException(Path path, String what, Throwable cause) {
        super(path + ": " + what, cause);
        this.path = path;
    }

    /** The file or directory at fault. */
    public Path path() { return path; }
}
