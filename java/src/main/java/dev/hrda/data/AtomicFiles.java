package dev.hrda.data;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Writes that never leave a half-written file: data goes to a temporary file in the same
 * directory (named {@code .<name>.tmp<N><ext>}, so tools that look at the extension still
 * work) and is renamed over the target only when complete; the directory is then synced so that
 * the rename survives a crash. Writers that need the data itself durable force it before
 * returning (e.g. {@code FileChannel.force}).
 */
public final class AtomicFiles {
    private static final AtomicLong COUNTER = new AtomicLong();

    private AtomicFiles() {}

    /** Something that writes a complete file at the given (temporary) path. */
    @FunctionalInterface
    public interface Writer {
        void write(Path tmp) throws IOException;
    }

    /** Temporary sibling of {@code target}, keeping its extension. */
    public static Path tempFor(Path target) {
        String name = target.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String ext = dot > 0 ? name.substring(dot) : "";
        String stem = dot > 0 ? name.substring(0, dot) : name;
        return target.resolveSibling("." + stem + ".tmp" + ProcessHandle.current().pid() + "-"
                                     + COUNTER.incrementAndGet() + ext);
    }

    public static boolean isTemp(Path p) {
        String n = p.getFileName().toString();
        return n.startsWith(".") && n.contains(".tmp");
    }

    /**
     * Tests only: a fault raised after the writer has written the temporary file and before the
     * rename, for targets the predicate accepts (a disk that fills up at save time).
     */
    private static volatile java.util.function.Function<Path, IOException> fault;

    public static void injectFault(java.util.function.Function<Path, IOException> f) {
        fault = f;
    }

    public static void write(Path target, Writer w) {
        Path tmp = tempFor(target);
        try {
            w.write(tmp);
            var f = fault;
            IOException injected = f == null ? null : f.apply(target);
            if (injected != null) throw injected;
            if (!Files.isRegularFile(tmp)) throw new IOException("nothing was written");
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            syncDirectory(target.toAbsolutePath().getParent());
        } catch (IOException | RuntimeException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // best effort; the original error matters more
            }
            if (e instanceof DataException de) throw de;
            throw new DataException(target, "cannot write (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Makes a rename in {@code dir} durable (fsync of the directory). Best effort: some file
     * systems cannot open a directory for this, and the rename has happened either way.
     */
    private static void syncDirectory(Path dir) {
        if (dir == null) return;
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // not supported here (e.g. some network file systems): the rename itself stands
        }
    }

    public static void writeString(Path target, String text) {
        write(target, tmp -> Files.writeString(tmp, text, StandardCharsets.UTF_8));
    }
}
