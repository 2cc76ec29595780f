package dev.hrda.tensor;

/** Where a tensor's memory lives. */
public enum Device {
    CPU, CUDA;

    public static Device parse(String s) {
        return switch (s.toLowerCase()) {
            case "cpu" -> CPU;
            case "cuda", "gpu" -> CUDA;
            default -> throw new IllegalArgumentException("unknown device '" + s + "' (cpu, cuda or auto)");
        };
    }
}
