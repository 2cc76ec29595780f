package dev.hrda.io;

import dev.hrda.data.AtomicFiles;
import dev.hrda.data.Json;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
 * {@code {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}}
 * (offsets relative to the data section), then the raw little-endian data. Readers validate
 * every offset, shape and overlap, and require the data section to be covered exactly (no holes,
 * so no polyglot files); tensors stay in the file mapping until used.
 */
public final class SafeTensors {
    /** Headers above this are refused (the reference implementation's limit is 100 MB too). */
    static final long MAX_HEADER = 100_000_000L;

    private SafeTensors() {}

    /** The tensors (header order) and the __metadata__ of a safetensors file. */
    record Contents(Map<String, StoredTensor> tensors, Map<String, String> metadata) {}

    private record Span(String name, StoredDType dtype, int[] shape, long begin, long end) {}

    /** A header length, then '{' (whether the length fits the file is for {@link #read} to tell). */
    static boolean looksLike(ByteBuffer head) {
        return head.remaining() >= 9 && head.getLong(0) >= 2 && head.get(8) == '{';
    }

    static Contents read(MappedFile f) {
        Path path = f.path();
        long size = f.size();
        if (size < 8) throw new CheckpointException(path, "safetensors: file of " + size + " bytes has no header length");
        long n = f.slice(0, 8).getLong(0);
        if (n < 2 || n > MAX_HEADER || n > size - 8) {
            throw new CheckpointException(path, "safetensors: header length " + n + " does not fit a file of " + size
                                                + " bytes (truncated, or not a safetensors file)");
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(f.slice(8, n)).toString();
        } catch (CharacterCodingException e) {
            throw new CheckpointException(path, "safetensors: header is not UTF-8");
        }
        Object parsed;
        try {
            parsed = Json.parse(text);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(path, "safetensors: header is not valid JSON (" + e.getMessage() + ")");
        }
        if (!(parsed instanceof Map<?, ?> header)) throw new CheckpointException(path, "safetensors: header is not a JSON object");
        long dataStart = 8 + n, dataLen = size - dataStart;
        Map<String, StoredTensor> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Span> spans = new ArrayList<>();
        for (Map.Entry<?, ?> e : header.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals("__metadata__")) {
                if (!(e.getValue() instanceof Map<?, ?> m)) throw new CheckpointException(path, "safetensors: __metadata__ is not an object");
                for (Map.Entry<?, ?> me : m.entrySet()) {
                    if (!(me.getValue() instanceof String s)) {
                        throw new CheckpointException(path, "safetensors: __metadata__ value of '" + me.getKey() + "' is not a string");
                    }
                    metadata.put((String) me.getKey(), s);
                }
                continue;
            }
            Span span = entry(path, name, e.getValue(), dataLen);
            spans.add(span);
            long at = dataStart + span.begin(), bytes = span.end() - span.begin();
            tensors.put(name, StoredTensor.contiguous(span.dtype(), span.shape(), bytes, () -> f.slice(at, bytes),
                                                      "bytes [" + span.begin() + ", " + span.end() + ")"));
        }
        checkCoverage(path, spans, dataLen);
        return new Contents(tensors, metadata);
    }

    /** Validates one header entry. */
    private static Span entry(Path path, String name, Object v, long dataLen) {
        String where = "safetensors: tensor '" + name + "': ";
        if (!(v instanceof Map<?, ?> info)) throw new CheckpointException(path, where + "entry is not an object");
        if (!(info.get("dtype") instanceof String ds)) throw new CheckpointException(path, where + "no dtype");
        StoredDType dtype = StoredDType.fromSafetensors(ds);
        if (dtype == null) throw new CheckpointException(path, where + "unsupported dtype '" + ds + "'");
        if (!(info.get("shape") instanceof List<?> sl)) throw new CheckpointException(path, where + "no shape");
        int[] shape = new int[sl.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            if (!(sl.get(i) instanceof Long d) || d < 0 || d > Integer.MAX_VALUE) {
                throw new CheckpointException(path, where + "bad shape " + sl);
            }
            shape[i] = (int) (long) d;
            try {
                numel = Math.multiplyExact(numel, (long) d);
            } catch (ArithmeticException x) {
                throw new CheckpointException(path, where + "shape " + sl + " overflows");
            }
        }
        if (!(info.get("data_offsets") instanceof List<?> ol) || ol.size() != 2
                || !(ol.get(0) instanceof Long b) || !(ol.get(1) instanceof Long e)) {
            throw new CheckpointException(path, where + "data_offsets must be [begin, end]");
        }
        if (b < 0 || e < b || e > dataLen) {
            throw new CheckpointException(path, where + "data_offsets [" + b + ", " + e + "] lie outside the data section of "
                                                + dataLen + " bytes (truncated file?)");
        }
        if (numel > Long.MAX_VALUE / dtype.bytes || numel * dtype.bytes != e - b) {
            throw new CheckpointException(path, where + "shape " + sl + " of " + dtype + " needs " + numel * dtype.bytes
                                                + " bytes but data_offsets [" + b + ", " + e + "] hold " + (e - b));
        }
        return new Span(name, dtype, shape, b, e);
    }

    private static void checkCoverage(Path path, List<Span> spans, long dataLen) {
        List<Span> sorted = new ArrayList<>(spans);
        sorted.sort(Comparator.comparingLong(Span::begin).thenComparingLong(Span::end));
        long covered = 0;
        Span prev = null;
        for (Span s : sorted) {
            if (s.begin() < covered) {
                throw new CheckpointException(path, "safetensors: tensor '" + s.name() + "' bytes [" + s.begin() + ", " + s.end()
                        + ") overlap tensor '" + prev.name() + "' [" + prev.begin() + ", " + prev.end() + ")");
            }
            if (s.begin() > covered) {
                throw new CheckpointException(path, "safetensors: bytes [" + covered + ", " + s.begin()
                        + ") of the data section belong to no tensor (before '" + s.name() + "')");
            }
            covered = s.end();
            prev = s;
        }
        if (covered != dataLen) {
            throw new CheckpointException(path, "safetensors: " + (dataLen - covered) + " bytes after the last tensor belong to no tensor");
        }
    }

    /**
     * Writes tensors and string metadata atomically: a temporary file in the same directory,
     * forced to disk, then renamed over {@code target}. On any failure (including one while a
     * tensor's values are produced) the target is left as it was and the temporary file removed.
     * Tensors are laid out by element size, largest first, so every tensor is aligned to its
     * element size (the header is padded with spaces to 8 bytes).
     */
    public static void write(Path target, Map<String, StoredTensor> tensors, Map<String, String> metadata) {
        List<Map.Entry<String, StoredTensor>> order = new ArrayList<>(tensors.entrySet());
        order.sort(Comparator.comparingInt((Map.Entry<String, StoredTensor> e) -> -e.getValue().dtype().bytes));
        Map<String, Object> header = new LinkedHashMap<>();
        if (metadata != null && !metadata.isEmpty()) header.put("__metadata__", new LinkedHashMap<>(metadata));
        long offset = 0;
        for (Map.Entry<String, StoredTensor> e : order) {
            String name = e.getKey();
            if (name.isEmpty() || name.equals("__metadata__")) throw new CheckpointException(target, "invalid tensor name '" + name + "'");
            StoredTensor t = e.getValue();
            List<Long> shape = new ArrayList<>();
            for (int s : t.shape()) shape.add((long) s);
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("dtype", t.dtype().name());
            info.put("shape", shape);
            info.put("data_offsets", List.of(offset, offset + t.byteSize()));
            header.put(name, info);
            offset += t.byteSize();
        }
        StringBuilder json = new StringBuilder(Json.writeCompact(header));
        while ((8 + json.length()) % 8 != 0) json.append(' ');  // ASCII only: ensure_ascii escapes the rest
        byte[] headerBytes = json.toString().getBytes(StandardCharsets.UTF_8);
        AtomicFiles.write(target, tmp -> {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, headerBytes.length);
                writeFully(ch, len);
                writeFully(ch, ByteBuffer.wrap(headerBytes));
                for (Map.Entry<String, StoredTensor> e : order) {
                    ByteBuffer d = e.getValue().data();
                    if (d.remaining() != e.getValue().byteSize()) {
                        throw new IOException("tensor '" + e.getKey() + "' produced " + d.remaining() + " bytes, expected "
                                              + e.getValue().byteSize());
                    }
                    writeFully(ch, d);
                }
                ch.force(true);
            }
        });
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }
}
