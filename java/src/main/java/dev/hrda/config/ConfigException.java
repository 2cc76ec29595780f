package dev.hrda.config;

/**
 * A config that cannot be used: a YAML syntax error, a missing or cyclic {@code _base_}, an
 * unknown key, a wrong type or value. The message starts with where (file:line, or the
 * {@code --cfg-options} entry) and names the dotted key.
 */
public class ConfigException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ConfigException(String message) {
        super(message);
    }

    public ConfigException(String message, Throwable cause) {
        super(message, cause);
    }

    static ConfigException at(Origin where, String message) {
        return new ConfigException(where + ": " + message);
    }
}
