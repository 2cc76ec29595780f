package dev.hrda.testing;

import dev.hrda.tensor.MemoryStats;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Registered for every test (service file + autodetection): the native allocation counters
 * must be back where they started when a test ends. Class-level fixtures (@BeforeAll) are
 * outside the window, so they may hold memory across tests.
 */
public final class LeakCheck implements BeforeEachCallback, AfterEachCallback {
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(LeakCheck.class);

    @Override
    public void beforeEach(ExtensionContext ctx) {
        ctx.getStore(NS).put("before", MemoryStats.Snapshot.take());
    }

    @Override
    public void afterEach(ExtensionContext ctx) {
        MemoryStats.Snapshot before = ctx.getStore(NS).get("before", MemoryStats.Snapshot.class);
        MemoryStats.Snapshot after = MemoryStats.Snapshot.take();
        if (ctx.getExecutionException().isPresent()) return;  // the real failure matters more
        assertEquals(before, after, "native allocations leaked by " + ctx.getDisplayName());
    }
}
