package dev.hrda.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A file read through memory mappings, read-only. Files up to 2 GiB are mapped once; larger ones
 * map each requested region on demand (one region, e.g. one tensor, must stay under 2 GiB).
 * Mappings outlive the channel and are released by the garbage collector.
 */
final class MappedFile {
    private final Path path;
    private final long size;
    private final ByteBuffer whole;   // null for files over 2 GiB

    private MappedFile(Path path, long size, ByteBuffer whole) {
        this.path = path;
        this.size = size;
        this.whole = whole;
    }

    static MappedFile open(Path path) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            ByteBuffer whole = size <= Integer.MAX_VALUE ? ch.map(FileChannel.MapMode.READ_ONLY, 0, size) : null;
            return new MappedFile(path, size, whole);
        }
    }

    Path path() { return path; }

    long size() { return size; }

    /** Bytes [offset, offset + length) as a little-endian buffer at position 0. */
    ByteBuffer slice(long offset, long length) {
        if (offset < 0 || length < 0 || offset + length > size) {
            throw new CheckpointException(path, "bytes [" + offset + ", " + (offset + length) + ") lie outside the file ("
                                                + size + " bytes): truncated or corrupt");
        }
        if (length > Integer.MAX_VALUE) throw new CheckpointException(path, "a region of " + length + " bytes (over 2 GiB) is not supported");
        if (whole != null) return whole.slice((int) offset, (int) length).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            return ch.map(FileChannel.MapMode.READ_ONLY, offset, length).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new UncheckedIOException(path + ": " + e.getMessage(), e);
        }
    }
}
