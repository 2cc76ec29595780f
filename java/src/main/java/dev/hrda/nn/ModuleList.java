package dev.hrda.nn;

import dev.hrda.backend.Backend;
import dev.hrda.tensor.DType;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/** torch.nn.ModuleList: children named "0", "1", … so state-dict keys read "block1.0.attn.q.weight". */
public final class ModuleList<M extends Module> extends Module implements Iterable<M> {
    private final List<M> items = new ArrayList<>();

    public ModuleList(Backend backend, DType dtype) {
        super(backend, dtype);
    }

    public M add(M m) {
        items.add(child(Integer.toString(items.size()), m));
        return m;
    }

    public M get(int i) {
        return items.get(i);
    }

    public int size() {
        return items.size();
    }

    @Override
    public Iterator<M> iterator() {
        return items.iterator();
    }
}
