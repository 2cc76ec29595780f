package dev.hrda;

/** Build version, filled in by Maven resource filtering. */
public final class Version {
    public static final String VERSION = load();

    private Version() {}

    private static String load() {
        try (var in = Version.class.getResourceAsStream("/hrda-version.properties")) {
            var p = new java.util.Properties();
            if (in != null) p.load(in);
            return p.getProperty("version", "dev");
        } catch (java.io.IOException e) {
            return "dev";
        }
    }
}
