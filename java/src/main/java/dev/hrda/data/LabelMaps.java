package dev.hrda.data;

import java.util.List;

/**
 * The 19 Cityscapes train ids and how every supported data set's label ids map to them
 * (hrda_spec.md §7; the maps of the original tools/convert_datasets/*.py).
 */
public final class LabelMaps {
    private LabelMaps() {}

    public static final int NUM_CLASSES = 19;
    public static final int IGNORE = 255;

    public static final List<String> CLASSES = List.of(
            "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
            "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
            "motorcycle", "bicycle");

    /** RGB colour of each train id (Cityscapes palette). */
    public static final int[][] PALETTE = {
            {128, 64, 128}, {244, 35, 232}, {70, 70, 70}, {102, 102, 156}, {190, 153, 153}, {153, 153, 153},
            {250, 170, 30}, {220, 220, 0}, {107, 142, 35}, {152, 251, 152}, {70, 130, 180}, {220, 20, 60},
            {255, 0, 0}, {0, 0, 142}, {0, 0, 70}, {0, 60, 100}, {0, 80, 100}, {0, 0, 230}, {119, 11, 32}};

    // train ids by name, for readability elsewhere
    public static final int ROAD = 0, SIDEWALK = 1, BUILDING = 2, WALL = 3, FENCE = 4, POLE = 5, LIGHT = 6,
            SIGN = 7, VEGETATION = 8, TERRAIN = 9, SKY = 10, PERSON = 11, RIDER = 12, CAR = 13, TRUCK = 14,
            BUS = 15, TRAIN = 16, MOTORCYCLE = 17, BICYCLE = 18;

    /** Cityscapes label ids (gtFine *_labelIds.png) and GTA5 label ids (same definition, 0..33). */
    public static final LabelMap CITYSCAPES = new LabelMap("cityscapes", 33,
            7, 0, 8, 1, 11, 2, 12, 3, 13, 4, 17, 5, 19, 6, 20, 7, 21, 8, 22, 9, 23, 10, 24, 11, 25, 12,
            26, 13, 27, 14, 28, 15, 31, 16, 32, 17, 33, 18);

    /** GTA5 uses the Cityscapes label ids. */
    public static final LabelMap GTA = CITYSCAPES;

    /**
     * SYNTHIA RAND-CITYSCAPES (GT/LABELS class channel, ids 0..22). Terrain (16), truck (18) and
     * train (20) never occur, so 16 classes are learnt and evaluated (mIoU16 = mIoU19 * 19/16).
     */
    public static final LabelMap SYNTHIA = new LabelMap("synthia", 22,
            3, 0, 4, 1, 2, 2, 21, 3, 5, 4, 7, 5, 15, 6, 9, 7, 6, 8, 16, 9, 1, 10, 10, 11, 17, 12, 8, 13,
            18, 14, 19, 15, 20, 16, 12, 17, 11, 18);

    /** The 16 train ids Synthia has (all but terrain, truck, train). */
    public static final int[] SYNTHIA_CLASSES = {0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 15, 17, 18};

    /** Mapillary Vistas v1.2 (66 classes, ids 0..65) as in HRDA's tools/convert_datasets/mapillary.py. */
    public static final LabelMap MAPILLARY_V12 = new LabelMap("mapillary-v1.2", 65,
            13, 0, 24, 0, 41, 0,          // road, lane marking - general, manhole
            2, 1, 15, 1,                  // curb, sidewalk
            17, 2, 6, 3, 3, 4,            // building, wall, fence
            45, 5, 47, 5,                 // pole, utility pole
            48, 6, 50, 7,                 // traffic light, traffic sign (front)
            30, 8, 29, 9, 27, 10,         // vegetation, terrain, sky
            19, 11, 20, 12, 21, 12, 22, 12, // person, bicyclist, motorcyclist, other rider
            55, 13, 61, 14, 54, 15, 58, 16, 57, 17, 52, 18); // car, truck, bus, on rails, motorcycle, bicycle

    /** True for 0..18 and 255. */
    public static boolean isValidTrainId(int v) {
        return v < NUM_CLASSES || v == IGNORE;
    }
}
