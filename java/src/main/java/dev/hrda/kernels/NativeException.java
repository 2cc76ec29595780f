package dev.hrda.kernels;

/** A native op refused its arguments or failed; the message is the library's own. */
public final class NativeException extends RuntimeException {
    public final int code;

    public NativeException(String op, int code, String message) {
        super(op + " failed (" + codeName(code) + "): " + message);
        this.code = code;
    }

    static String codeName(int code) {
        return switch (code) {
            case 1 -> "invalid argument";
            case 2 -> "unsupported";
            case 3 -> "CUDA error";
            case 4 -> "no CUDA support";
            case 5 -> "out of memory";
            default -> "status " + code;
        };
    }
}
