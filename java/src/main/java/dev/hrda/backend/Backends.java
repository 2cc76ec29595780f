package dev.hrda.backend;

import dev.hrda.kernels.CudaRuntime;

/** Chooses the backend once at start-up: {@code cpu}, {@code cuda} or {@code auto}. */
public final class Backends {
    private Backends() {}

    /**
     * @throws IllegalStateException for {@code cuda} where CUDA cannot be used, with the reason
     *                               (library not loadable, no driver, driver too old, no device)
     */
    public static Backend create(String device) {
        return switch (device.toLowerCase()) {
            case "cpu" -> new CpuBackend();
            case "cuda", "gpu" -> {
                CudaRuntime.Probe p = CudaRuntime.probe();
                if (!p.usable()) throw new IllegalStateException("--device cuda: " + p.reason());
                yield new CudaBackend(0);
            }
            case "auto" -> CudaRuntime.probe().usable() ? new CudaBackend(0) : new CpuBackend();
            default -> throw new IllegalArgumentException("unknown device '" + device + "': use cpu, cuda or auto");
        };
    }
}
