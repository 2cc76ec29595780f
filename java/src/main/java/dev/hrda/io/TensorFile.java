package dev.hrda.io;

import dev.hrda.data.Json;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tensors of a checkpoint file, whatever its format (detected from the content, not the
 * extension): safetensors, torch.save's zip format or its legacy format.
 *
 * For a .pth file the state dict is located as mmcv and SegFormer do: under the top-level key
 * {@code state_dict}, else {@code model}, else the top level itself; nested dicts are flattened
 * with '.' ({@code {'model': {'backbone': {..}}}} -> {@code model.backbone...}). Tensors elsewhere
 * in the file (an optimizer's state) are in {@link #otherTensors()}, and every other value
 * (mmcv's {@code meta}: iteration, config text, CLASSES ...) in {@link #metadata()} as text,
 * lists and dicts as JSON.
 */
public final class TensorFile {
    public enum Format { SAFETENSORS, TORCH_ZIP, TORCH_LEGACY }

    private final Path path;
    private final Format format;
    private final String stateDictKey;
    private final Map<String, StoredTensor> tensors;
    private final Map<String, StoredTensor> otherTensors;
    private final Map<String, String> metadata;

    private TensorFile(Path path, Format format, String stateDictKey, Map<String, StoredTensor> tensors,
                       Map<String, StoredTensor> otherTensors, Map<String, String> metadata) {
        this.path = path;
        this.format = format;
        this.stateDictKey = stateDictKey;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.otherTensors = Collections.unmodifiableMap(otherTensors);
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    /**
     * Reads the index of a checkpoint; tensor data stay in the (memory-mapped) file until used.
     * @throws CheckpointException naming the file (and the tensor or pickle global at fault)
     */
    public static TensorFile read(Path path) {
        MappedFile f;
        try {
            f = MappedFile.open(path);
        } catch (IOException e) {
            throw new CheckpointException(path, "cannot read (" + e + ")", e);
        }
        ByteBuffer head = f.slice(0, Math.min(16, f.size()));
        if (TorchFiles.isZip(head)) return fromTorch(path, Format.TORCH_ZIP, TorchFiles.readZip(f));
        if (SafeTensors.looksLike(head)) {
            SafeTensors.Contents c = SafeTensors.read(f);
            return new TensorFile(path, Format.SAFETENSORS, "", c.tensors(), new LinkedHashMap<>(), c.metadata());
        }
        if (TorchFiles.isLegacy(head)) return fromTorch(path, Format.TORCH_LEGACY, TorchFiles.readLegacy(f));
        throw new CheckpointException(path, "neither safetensors nor a PyTorch checkpoint (zip or legacy pickle)"
                                            + (f.size() < 9 ? ": only " + f.size() + " bytes" : ""));
    }

    public Path path() { return path; }

    public Format format() { return format; }

    /** Where the state dict was found: "state_dict", "model", or "" (the top level, or safetensors). */
    public String stateDictKey() { return stateDictKey; }

    /** The state dict: flat names in file order. */
    public Map<String, StoredTensor> tensors() { return tensors; }

    /** Tensors outside the state dict (e.g. "optimizer.state.0.exp_avg"); empty for safetensors. */
    public Map<String, StoredTensor> otherTensors() { return otherTensors; }

    /** safetensors' __metadata__, or the non-tensor values of a .pth ("meta.iter" -> "4000"). */
    public Map<String, String> metadata() { return metadata; }

    // ---- .pth object tree -> flat maps ----

    /**
     * How deep a checkpoint's containers may nest. mmcv's files nest about 5 levels; a pickle can
     * nest without bound (or refer to itself through its memo), so every walk over it stops here
     * with a named refusal instead of a StackOverflowError.
     */
    static final int MAX_DEPTH = 64;

    private static TensorFile fromTorch(Path path, Format format, Object root) {
        Map<String, StoredTensor> tensors = new LinkedHashMap<>(), other = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        String key = "";
        if (root instanceof Map<?, ?> m) {
            for (String candidate : List.of("state_dict", "model")) {
                if (m.get(candidate) instanceof Map<?, ?> sd && holdsTensor(path, sd, 0)) {
                    key = candidate;
                    break;
                }
            }
        }
        if (key.isEmpty()) {
            flatten(path, root, "", tensors, meta, 0);
        } else {
            for (Map.Entry<?, ?> e : ((Map<?, ?>) root).entrySet()) {
                String k = String.valueOf(e.getKey());
                if (k.equals(key)) flatten(path, e.getValue(), "", tensors, meta, 1);
                else flatten(path, e.getValue(), k, other, meta, 1);
            }
        }
        return new TensorFile(path, format, key, tensors, other, meta);
    }

    private static boolean holdsTensor(Path path, Object o, int depth) {
        if (o instanceof StoredTensor) return true;
        checkDepth(path, depth, "");
        Collection<?> children = o instanceof Map<?, ?> m ? m.values() : o instanceof Collection<?> c ? c : List.of();
        for (Object c : children) if (holdsTensor(path, c, depth + 1)) return true;
        return false;
    }

    private static void checkDepth(Path path, int depth, String name) {
        if (depth > MAX_DEPTH) {
            throw new CheckpointException(path, "containers nested more than " + MAX_DEPTH + " levels deep"
                                                + (name.isEmpty() ? "" : " at '" + abbreviate(name) + "'")
                                                + " (a self-referencing or hostile pickle): refused");
        }
    }

    private static String abbreviate(String name) {
        return name.length() <= 120 ? name : name.substring(0, 120) + "...";
    }

    private static void flatten(Path path, Object node, String name, Map<String, StoredTensor> tensors, Map<String, String> meta, int depth) {
        checkDepth(path, depth, name);
        if (node instanceof StoredTensor t) {
            try {
                t.validate();
            } catch (IllegalArgumentException e) {
                throw new CheckpointException(path, "tensor '" + name + "': " + e.getMessage());
            }
            if (tensors.put(name, t) != null) throw new CheckpointException(path, "tensor name '" + name + "' occurs twice");
        } else if (node instanceof Map<?, ?> m && !m.isEmpty()) {
            for (Map.Entry<?, ?> e : m.entrySet()) flatten(path, e.getValue(), join(name, e.getKey()), tensors, meta, depth + 1);
        } else if (node instanceof Collection<?> c && holdsTensor(path, c, depth)) {
            int i = 0;
            for (Object o : c) flatten(path, o, join(name, i++), tensors, meta, depth + 1);
        } else {
            meta.put(name, node instanceof String s ? s : Json.writeCompact(plain(path, node, depth)));
        }
    }

    private static String join(String prefix, Object key) {
        return prefix.isEmpty() ? String.valueOf(key) : prefix + "." + key;
    }

    /** A pickled value as something {@link Json} writes. */
    private static Object plain(Path path, Object v, int depth) {
        checkDepth(path, depth, "");
        if (v instanceof BigInteger) return v.toString();
        if (v instanceof Double d && (d.isNaN() || d.isInfinite())) return d.toString();
        if (v instanceof byte[] b) return "<" + b.length + " bytes>";
        if (v instanceof Map<?, ?> m) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : m.entrySet()) out.put(String.valueOf(e.getKey()), plain(path, e.getValue(), depth + 1));
            return out;
        }
        if (v instanceof Collection<?> c) {
            List<Object> out = new ArrayList<>();
            for (Object o : c) out.add(plain(path, o, depth + 1));
            return out;
        }
        return v;
    }
}
