package dev.hrda.data;

import java.util.Arrays;
import java.util.stream.Collectors;

/** The data sets hrda reads, in their original layouts. */
public enum DatasetKind {
    GTA("gta"), CITYSCAPES("cityscapes"), SYNTHIA("synthia"), ACDC("acdc"), DARK_ZURICH("darkzurich"),
    BDD100K("bdd100k"), MAPILLARY("mapillary");

    public final String id;

    DatasetKind(String id) { this.id = id; }

    public static DatasetKind parse(String s) {
        String k = s.toLowerCase().replace("-", "").replace("_", "");
        for (DatasetKind d : values()) if (d.id.equals(k)) return d;
        switch (k) {
            case "gta5": return GTA;
            case "darkzurich", "dz": return DARK_ZURICH;
            case "bdd": return BDD100K;
            case "mapillaryvistas", "vistas": return MAPILLARY;
            default: break;
        }
        throw new IllegalArgumentException("unknown data set '" + s + "' (one of " + names() + ")");
    }

    public static String names() {
        return Arrays.stream(values()).map(d -> d.id).collect(Collectors.joining(", "));
    }

    public Layout layout() { return Layout.of(this); }

    @Override
    public String toString() { return id; }
}
