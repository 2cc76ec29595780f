package dev.hrda.io;

import dev.hrda.backend.Backend;
import dev.hrda.data.Json;
import dev.hrda.nn.Module;
import dev.hrda.tensor.DType;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** A module tree built from dotted names, to load checkpoints into; plus the io fixtures. */
final class TinyModel extends Module {
    TinyModel(Backend backend, DType dtype) {
        super(backend, dtype);
    }

    /** Parameters (zeros) and buffers (zeros) with the given dotted names and shapes. */
    static TinyModel of(Backend be, DType dtype, Map<String, int[]> params, Map<String, int[]> buffers) {
        TinyModel m = new TinyModel(be, dtype);
        params.forEach((k, v) -> m.add(k, v, false));
        buffers.forEach((k, v) -> m.add(k, v, true));
        return m;
    }

    private void add(String dotted, int[] shape, boolean isBuffer) {
        int dot = dotted.indexOf('.');
        if (dot < 0) {
            long n = 1;
            for (int s : shape) n *= s;
            if (isBuffer) buffer(dotted, 0, shape);
            else param(dotted, new double[(int) n], shape);
            return;
        }
        String head = dotted.substring(0, dot);
        Module c = children().get(head);
        TinyModel t = c != null ? (TinyModel) c : child(head, new TinyModel(backend, dtype));
        t.add(dotted.substring(dot + 1), shape, isBuffer);
    }

    static Path resource(String name) {
        try {
            return Path.of(TinyModel.class.getResource("/io/" + name).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("test resource io/" + name + " not found", e);
        }
    }

    /** expected.json (written by tools/make_pth_fixture.py): file -> tensor -> {dtype, shape, values}. */
    @SuppressWarnings("unchecked")
    static Map<String, Map<String, Object>> expected(String file) throws IOException {
        Map<String, Object> all = (Map<String, Object>) Json.parse(Files.readString(resource("expected.json")));
        return (Map<String, Map<String, Object>>) all.get(file);
    }
}
