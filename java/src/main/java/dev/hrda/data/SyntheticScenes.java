package dev.hrda.data;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Procedural street scenes labelled with Cityscapes label ids, in two domains that differ the
 * way game and real images do:
 * <ul>
 *   <li>{@link Domain#SOURCE} (game-like, GTA style): saturated warm palette, flat shading with
 *       regular crisp textures, hard aliased edges, no sensor noise, larger objects, more cars;</li>
 *   <li>{@link Domain#TARGET} (real-like, Cityscapes style): greyish overcast palette, irregular
 *       textures, sensor noise, blur, vignetting and uneven light, smaller objects, more
 *       pedestrians and cyclists, and the ego-vehicle bonnet (void) at the bottom.</li>
 * </ul>
 * Every scene has large stuff (road, sidewalk, building, vegetation, sky, terrain) next to thin
 * and small objects (poles, traffic lights and signs, distant persons and riders, fences),
 * so that resolution matters. A scene is a pure function of (domain, size, seed). Drawing is a
 * small scanline rasteriser in Java that paints the image and the label map together.
 */
public final class SyntheticScenes {
    private SyntheticScenes() {}

    public enum Domain { SOURCE, TARGET }

    // Cityscapes label ids
    static final int EGO = 1, ROAD = 7, SIDEWALK = 8, BUILDING = 11, WALL = 12, FENCE = 13, POLE = 17, LIGHT = 19,
            SIGN = 20, VEGETATION = 21, TERRAIN = 22, SKY = 23, PERSON = 24, RIDER = 25, CAR = 26, TRUCK = 27,
            BUS = 28, TRAIN = 31, MOTORCYCLE = 32, BICYCLE = 33;

    /** An image (BGR, HWC) and its label ids. */
    public record Scene(int width, int height, byte[] bgr, byte[] labelIds) {}

    /** Colour of a pixel: packed 0xRRGGBB. */
    @FunctionalInterface
    interface Paint {
        int rgb(int x, int y);
    }

    /** Image and label raster painted together. */
    static final class Canvas {
        final int w, h;
        final int[] rgb;
        final byte[] lbl;

        Canvas(int w, int h) {
            this.w = w;
            this.h = h;
            rgb = new int[w * h];
            lbl = new byte[w * h];
        }

        void span(int y, double xa, double xb, int id, Paint p) {
            if (y < 0 || y >= h) return;
            int x0 = Math.max(0, (int) Math.ceil(xa - 0.5)), x1 = Math.min(w - 1, (int) Math.floor(xb - 0.5));
            int o = y * w;
            for (int x = x0; x <= x1; x++) {
                rgb[o + x] = p.rgb(x, y);
                lbl[o + x] = (byte) id;
            }
        }

        /** Even-odd scanline fill, sampling at pixel centres. */
        void poly(double[] xs, double[] ys, int id, Paint p) {
            double minY = Double.MAX_VALUE, maxY = -Double.MAX_VALUE;
            for (double y : ys) {
                minY = Math.min(minY, y);
                maxY = Math.max(maxY, y);
            }
            int y0 = Math.max(0, (int) Math.ceil(minY - 0.5)), y1 = Math.min(h - 1, (int) Math.floor(maxY - 0.5));
            int n = xs.length;
            double[] cross = new double[n];
            for (int y = y0; y <= y1; y++) {
                double cy = y + 0.5;
                int k = 0;
                for (int i = 0, j = n - 1; i < n; j = i++) {
                    double ya = ys[j], yb = ys[i];
                    if ((ya <= cy && yb > cy) || (yb <= cy && ya > cy)) {
                        cross[k++] = xs[j] + (cy - ya) / (yb - ya) * (xs[i] - xs[j]);
                    }
                }
                java.util.Arrays.sort(cross, 0, k);
                for (int i = 0; i + 1 < k; i += 2) span(y, cross[i], cross[i + 1], id, p);
            }
        }

        void rect(double x0, double y0, double x1, double y1, int id, Paint p) {
            poly(new double[] {x0, x1, x1, x0}, new double[] {y0, y0, y1, y1}, id, p);
        }

        void ellipse(double cx, double cy, double rx, double ry, int id, Paint p) {
            if (rx <= 0 || ry <= 0) return;
            int y0 = (int) Math.ceil(cy - ry - 0.5), y1 = (int) Math.floor(cy + ry - 0.5);
            for (int y = y0; y <= y1; y++) {
                double t = (y + 0.5 - cy) / ry;
                if (t * t > 1) continue;
                double hw = rx * Math.sqrt(1 - t * t);
                span(y, cx - hw, cx + hw, id, p);
            }
        }

        void ring(double cx, double cy, double r, double thick, int id, Paint p) {
            double ri = Math.max(0, r - thick);
            int y0 = (int) Math.ceil(cy - r - 0.5), y1 = (int) Math.floor(cy + r - 0.5);
            for (int y = y0; y <= y1; y++) {
                double dy = y + 0.5 - cy;
                if (dy * dy > r * r) continue;
                double ho = Math.sqrt(r * r - dy * dy);
                if (dy * dy >= ri * ri) {
                    span(y, cx - ho, cx + ho, id, p);
                } else {
                    double hi = Math.sqrt(ri * ri - dy * dy);
                    span(y, cx - ho, cx - hi, id, p);
                    span(y, cx + hi, cx + ho, id, p);
                }
            }
        }

        /** A segment of the given thickness (at least one pixel wide). */
        void line(double xa, double ya, double xb, double yb, double thick, int id, Paint p) {
            double dx = xb - xa, dy = yb - ya, len = Math.hypot(dx, dy);
            if (len == 0) return;
            double t = Math.max(thick, 1.0) / 2, nx = -dy / len * t, ny = dx / len * t;
            poly(new double[] {xa + nx, xb + nx, xb - nx, xa - nx}, new double[] {ya + ny, yb + ny, yb - ny, ya - ny}, id, p);
        }
    }

    // ------------------------------------------------------------------ colours

    static int rgb(double r, double g, double b) {
        return (clamp(r) << 16) | (clamp(g) << 8) | clamp(b);
    }

    static int clamp(double v) {
        return v < 0 ? 0 : v > 255 ? 255 : (int) Math.round(v);
    }

    /** Deterministic per-pixel hash in [0, 1). */
    static double hash(int x, int y, long salt) {
        long z = x * 0x9E3779B97F4A7C15L ^ y * 0xC2B2AE3D27D4EB4FL ^ salt * 0x165667B19E3779F9L;
        z = (z ^ (z >>> 33)) * 0xFF51AFD7ED558CCDL;
        z = (z ^ (z >>> 33)) * 0xC4CEB9FE1A85EC53L;
        return ((z ^ (z >>> 33)) >>> 11) * 0x1.0p-53;
    }

    static Paint solid(int c) {
        return (x, y) -> c;
    }

    static Paint grain(int c, double amount, long salt) {
        int r = c >> 16 & 255, g = c >> 8 & 255, b = c & 255;
        return (x, y) -> {
            double d = (hash(x, y, salt) - 0.5) * amount;
            return rgb(r + d, g + d, b + d);
        };
    }

    /** Per-domain look. */
    static final class Style {
        final Domain d;
        final boolean game;
        final SplittableRandom rng;

        Style(Domain d, SplittableRandom rng) {
            this.d = d;
            this.game = d == Domain.SOURCE;
            this.rng = rng;
        }

        double u(double a, double b) { return a + (b - a) * rng.nextDouble(); }

        int jitter(int c, double amount) {
            double k = u(-amount, amount);
            return rgb((c >> 16 & 255) + k + u(-amount, amount) / 2, (c >> 8 & 255) + k, (c & 255) + k + u(-amount, amount) / 2);
        }

        int pick(int... cs) { return cs[rng.nextInt(cs.length)]; }

        int road() { return game ? jitter(0x56565E, 8) : jitter(0x6E6A72, 6); }
        int sidewalk() { return game ? jitter(0xC8A887, 12) : jitter(0x9A9094, 8); }
        int terrain() { return game ? jitter(0x7CC040, 15) : jitter(0x7A8458, 8); }
        int vegetation() { return game ? jitter(0x2E9E2A, 18) : jitter(0x4A6238, 10); }
        int building() {
            return game ? jitter(pick(0xD2784A, 0xE6CC8C, 0x7A8CD2, 0xC85A5A, 0xF0E6D2, 0x9A6A4A), 12)
                        : jitter(pick(0x8C8780, 0xA29A8E, 0x6E6C6A, 0xB4ACA0, 0x7E7468), 8);
        }
        int wall() { return game ? jitter(0xB49A82, 10) : jitter(0x8A8682, 6); }
        int fence() { return game ? jitter(0xA07850, 12) : jitter(0x8C8078, 6); }
        int pole() { return game ? jitter(0x9A9AA6, 10) : jitter(0x5E5E62, 6); }
        int car() {
            return game ? jitter(pick(0xD8201C, 0xF0C814, 0x1C50D8, 0xF2F2F2, 0x18A040, 0xFF7A00), 10)
                        : jitter(pick(0x3C3C40, 0x8E9094, 0xC4C6C8, 0x1E2A4A, 0x5A2020, 0x202020), 6);
        }
        int clothes() {
            return game ? jitter(pick(0xE0283C, 0x2850E0, 0xF0D020, 0x20C0A0, 0xF08020), 15)
                        : jitter(pick(0x282830, 0x4A4A58, 0x5A4030, 0x303C5A, 0x7A6A5A), 8);
        }
        int skin() { return game ? jitter(0xE8B890, 10) : jitter(0xB89478, 10); }
    }

    // ------------------------------------------------------------------ the scene

    /** Draws one scene; a pure function of its arguments. */
    public static Scene draw(Domain domain, int w, int h, long seed) {
        SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + (domain == Domain.SOURCE ? 17 : 91));
        Style st = new Style(domain, rng);
        Canvas cv = new Canvas(w, h);
        boolean game = st.game;
        double objScale = game ? 1.15 : 0.9;

        double hy = h * st.u(0.36, 0.47);
        double vx = w * st.u(0.42, 0.58);
        long salt = rng.nextLong();

        // sky: vertical gradient (game: saturated blue; real: pale overcast)
        int skyTop = game ? st.jitter(0x3C8CF0, 12) : st.jitter(0xB4C0CC, 8);
        int skyLow = game ? st.jitter(0xB4DCFF, 10) : st.jitter(0xE2E6EA, 6);
        cv.rect(0, 0, w, hy + 2, SKY, (x, y) -> {
            double t = Math.min(1, y / hy);
            return rgb(lerp(skyTop >> 16 & 255, skyLow >> 16 & 255, t), lerp(skyTop >> 8 & 255, skyLow >> 8 & 255, t),
                       lerp(skyTop & 255, skyLow & 255, t));
        });
        // ground base: terrain
        cv.rect(0, hy, w, h, TERRAIN, grain(st.terrain(), game ? 20 : 35, salt + 1));

        // ground lines: bottom u -> vanishing point
        double roadHalf = w * st.u(0.45, 0.75);
        double roadL = vx - roadHalf, roadR = vx + roadHalf;
        double swL = roadL - w * st.u(0.25, 0.5), swR = roadR + w * st.u(0.25, 0.5);
        double outL = swL - w * st.u(0.0, 0.4), outR = swR + w * st.u(0.0, 0.4);

        // facades on both sides (behind everything on the ground)
        for (int side = -1; side <= 1; side += 2) facade(cv, st, side < 0 ? outL : outR, vx, hy, h, w, salt);

        // sidewalks (with terrain strips between sidewalk and facade already underneath)
        int swc = st.sidewalk();
        Paint swPaint = game ? (x, y) -> ((x / 6 + y / 3) % 7 == 0) ? darker(swc, 0.85) : swc : grain(swc, 28, salt + 2);
        cv.poly(new double[] {swL, roadL, vx, vx}, new double[] {h, h, hy, hy}, SIDEWALK, swPaint);
        cv.poly(new double[] {roadR, swR, vx, vx}, new double[] {h, h, hy, hy}, SIDEWALK, swPaint);
        // road with dashed centre line and edge lines
        int rc = st.road();
        Paint roadPaint = grain(rc, game ? 10 : 26, salt + 3);
        cv.poly(new double[] {roadL, roadR, vx + 0.5, vx - 0.5}, new double[] {h, h, hy, hy}, ROAD, roadPaint);
        int mark = game ? 0xF4F4F4 : 0xC8C8C4;
        double centre = vx + (roadR - roadL) * st.u(-0.1, 0.1);
        for (double t = 0.02; t < 0.95; t += 0.12) {
            double t2 = t + 0.05;
            double xa = lerp(centre, vx, t), ya = lerp(h, hy, t), xb = lerp(centre, vx, t2), yb = lerp(h, hy, t2);
            cv.line(xa, ya, xb, yb, Math.max(1, 0.012 * w * (1 - t)), ROAD, grain(mark, 15, salt + 4));
        }

        // objects, far to near
        List<double[]> objs = new ArrayList<>(); // {t, kind, side or lane, variant}
        int nPoles = 3 + rng.nextInt(5), nPersons = (game ? 2 : 5) + rng.nextInt(game ? 4 : 7);
        int nCars = (game ? 4 : 2) + rng.nextInt(game ? 5 : 4), nRiders = (game ? 0 : 1) + rng.nextInt(game ? 2 : 3);
        int nTrees = 1 + rng.nextInt(4);
        for (int i = 0; i < nPoles; i++) objs.add(new double[] {st.u(0.05, 0.92), 0, rng.nextBoolean() ? -1 : 1, rng.nextInt(4)});
        for (int i = 0; i < nPersons; i++) objs.add(new double[] {st.u(0.0, 0.93), 1, rng.nextBoolean() ? -1 : 1, st.u(0.1, 0.9)});
        for (int i = 0; i < nCars; i++) objs.add(new double[] {st.u(0.05, 0.9), 2, st.u(-0.8, 0.8), rng.nextInt(20)});
        for (int i = 0; i < nRiders; i++) objs.add(new double[] {st.u(0.1, 0.9), 3, st.u(-0.9, 0.9), rng.nextInt(2)});
        for (int i = 0; i < nTrees; i++) objs.add(new double[] {st.u(0.1, 0.85), 4, rng.nextBoolean() ? -1 : 1, 0});
        if (rng.nextInt(8) == 0) objs.add(new double[] {st.u(0.3, 0.7), 5, 0, 0}); // a tram
        objs.sort(Comparator.comparingDouble((double[] o) -> -o[0]));
        for (double[] o : objs) {
            double t = o[0], s = (1 - t) * objScale; // perspective scale: 1 at the bottom, 0 at the horizon
            switch ((int) o[1]) {
                case 0 -> { // pole (with light / sign / lamp arm) at the kerb
                    double xb = o[2] < 0 ? lerp(roadL - 0.04 * w, vx, t) : lerp(roadR + 0.04 * w, vx, t);
                    double yb = lerp(h, hy, t);
                    pole(cv, st, xb, yb, s, h, (int) o[3], (int) o[2], salt);
                }
                case 1 -> { // pedestrian on a sidewalk
                    double a = o[3];
                    double xb = o[2] < 0 ? lerp(lerp(swL, roadL, a), vx, t) : lerp(lerp(roadR, swR, a), vx, t);
                    person(cv, st, xb, lerp(h, hy, t), s * h * 0.42, PERSON);
                }
                case 2 -> { // vehicle in a lane
                    double xb = lerp(lerp(roadL, roadR, (o[2] + 1) / 2), vx, t);
                    int v = (int) o[3];
                    int kind = v < 14 ? CAR : v < 17 ? TRUCK : BUS;
                    vehicle(cv, st, xb, lerp(h, hy, t), s, w, h, kind);
                }
                case 3 -> { // cyclist or motorcyclist near the road edge
                    double side = o[2] < 0 ? -0.85 : 0.85;
                    double xb = lerp(lerp(roadL, roadR, (side + 1) / 2), vx, t);
                    rider(cv, st, xb, lerp(h, hy, t), s * h * 0.42, o[3] > 0.5 ? MOTORCYCLE : BICYCLE);
                }
                case 4 -> { // tree on the sidewalk
                    double xb = o[2] < 0 ? lerp(lerp(swL, roadL, 0.3), vx, t) : lerp(lerp(roadR, swR, 0.7), vx, t);
                    tree(cv, st, xb, lerp(h, hy, t), s * h, salt);
                }
                case 5 -> { // tram
                    double xb = lerp(vx, vx, t);
                    double hh = s * h * 0.55, ww = s * w * 0.35;
                    double yb = lerp(h, hy, t);
                    int c = game ? st.jitter(0xE0D040, 10) : st.jitter(0xD8D0B8, 6);
                    cv.rect(xb - ww / 2, yb - hh, xb + ww / 2, yb, TRAIN, grain(c, 12, salt + 5));
                    for (int k = 0; k < 4; k++) {
                        double wx = xb - ww / 2 + ww * (0.08 + k * 0.23);
                        cv.rect(wx, yb - hh * 0.8, wx + ww * 0.16, yb - hh * 0.45, TRAIN, solid(0x303840));
                    }
                }
                default -> { }
            }
        }

        if (!game) { // ego-vehicle bonnet, void in Cityscapes
            double bh = h * st.u(0.06, 0.1);
            int bc = st.jitter(0x2A2A2E, 5);
            cv.ellipse(w / 2.0, h + bh * 0.6, w * 0.75, bh * 1.6, EGO, grain(bc, 10, salt + 6));
        }

        byte[] bgr = finishImage(cv, st, salt);
        return new Scene(w, h, bgr, cv.lbl);
    }

    static double lerp(double a, double b, double t) { return a + (b - a) * t; }

    static int darker(int c, double k) {
        return rgb((c >> 16 & 255) * k, (c >> 8 & 255) * k, (c & 255) * k);
    }

    /** Buildings, walls, fences and hedges along one side, as facades parallel to the street. */
    static void facade(Canvas cv, Style st, double xBottom, double vx, double hy, int h, int w, long salt) {
        double t = -0.6; // start beyond the bottom of the image (near side is off-screen)
        double hBase = (h - hy) * st.u(1.3, 2.6);
        while (t < 0.97) {
            double len = st.u(0.12, 0.35) * (1 - Math.max(t, 0) * 0.6);
            double t2 = Math.min(0.985, t + len);
            double r = st.rng.nextDouble();
            int id;
            double k;
            int c;
            if (r < 0.62) { id = BUILDING; k = st.u(0.6, 1.4); c = st.building(); }
            else if (r < 0.78) { id = VEGETATION; k = st.u(0.35, 0.8); c = st.vegetation(); }
            else if (r < 0.89) { id = WALL; k = st.u(0.08, 0.2); c = st.wall(); }
            else { id = FENCE; k = st.u(0.1, 0.22); c = st.fence(); }
            double xa = lerp(xBottom, vx, t), ya = lerp(h, hy, t), xb = lerp(xBottom, vx, t2), yb = lerp(h, hy, t2);
            double ha = hBase * k * (1 - t), hb = hBase * k * (1 - t2);
            double[] xs = {xa, xb, xb, xa}, ys = {ya, yb, yb - hb, ya - ha};
            long sl = salt + (long) (t * 1000);
            if (id == BUILDING) {
                int win = st.game ? 0x2A3A5A : 0x4A4E54;
                int cc = c;
                Paint p = st.game
                        ? (x, y) -> ((x % 9 < 5) && (y % 11 < 6)) ? win : cc
                        : (x, y) -> (((x + (int) (hash(x / 7, 0, sl) * 3)) % 8 < 4) && (y % 10 < 5) && hash(x / 8, y / 10, sl) > 0.25)
                                    ? darker(win, 0.8 + 0.4 * hash(x / 8, y / 10, sl + 1)) : grain(cc, 22, sl).rgb(x, y);
                cv.poly(xs, ys, id, p);
            } else if (id == VEGETATION) {
                cv.poly(xs, ys, id, (x, y) -> {
                    double n = hash(x / 3, y / 3, sl);
                    return darker(c, 0.7 + 0.5 * n);
                });
                // bumpy top: blobs
                for (double u = 0; u <= 1; u += 0.2) {
                    double bx = lerp(xa, xb, u), by = lerp(ya - ha, yb - hb, u), rr = lerp(ha, hb, u) * 0.25;
                    cv.ellipse(bx, by, rr, rr * 0.8, VEGETATION, (x, y) -> darker(c, 0.75 + 0.4 * hash(x / 3, y / 3, sl)));
                }
            } else if (id == WALL) {
                cv.poly(xs, ys, id, grain(c, st.game ? 10 : 25, sl));
            } else { // fence: posts and rails, terrain/vegetation visible in between
                int posts = 8;
                for (int i = 0; i <= posts; i++) {
                    double u = i / (double) posts;
                    double px = lerp(xa, xb, u), py = lerp(ya, yb, u), ph = lerp(ha, hb, u);
                    cv.line(px, py, px, py - ph, Math.max(1, ph * 0.06), FENCE, solid(c));
                }
                for (double v = 0.3; v < 1; v += 0.35) {
                    cv.line(xa, ya - ha * v, xb, yb - hb * v, Math.max(1, ha * 0.05), FENCE, solid(c));
                }
            }
            t = t2;
        }
    }

    /** Thin pole of height ~ 0.55 h at scale s, with a traffic light, a sign, a lamp arm or nothing. */
    static void pole(Canvas cv, Style st, double xb, double yb, double s, int h, int variant, int side, long salt) {
        double ph = s * h * 0.62, pw = Math.max(1.0, s * h * 0.012);
        int c = st.pole();
        cv.rect(xb - pw / 2, yb - ph, xb + pw / 2, yb, POLE, solid(c));
        double top = yb - ph;
        switch (variant) {
            case 0 -> { // traffic light: dark box with three lamps, facing the road
                double bw = pw * 3.2, bh = pw * 8;
                double bx = xb - side * pw * 2;
                cv.rect(bx - bw / 2, top, bx + bw / 2, top + bh, LIGHT, solid(st.game ? 0x202020 : 0x2C2C2C));
                int[] lamps = {0xFF3020, 0xFFB000, 0x30E050};
                int on = st.rng.nextInt(3);
                for (int k = 0; k < 3; k++) {
                    int lc = k == on ? lamps[k] : darker(lamps[k], 0.3);
                    cv.ellipse(bx, top + bh * (k + 0.5) / 3, bw * 0.3, bh * 0.12, LIGHT, solid(lc));
                }
            }
            case 1 -> { // round or triangular traffic sign
                double r = pw * 3.5, cy = top + r;
                if (st.rng.nextBoolean()) {
                    cv.ellipse(xb, cy, r, r, SIGN, solid(0xE02020));
                    cv.ellipse(xb, cy, r * 0.7, r * 0.7, SIGN, solid(0xF4F4F4));
                } else {
                    cv.poly(new double[] {xb - r, xb + r, xb}, new double[] {cy - r * 0.8, cy - r * 0.8, cy + r}, SIGN, solid(0xF0F0F0));
                }
            }
            case 2 -> { // rectangular sign (street name / direction)
                double sw = pw * 7, sh = pw * 3;
                cv.rect(xb - sw / 2, top + pw, xb + sw / 2, top + pw + sh, SIGN, solid(st.game ? 0x1858D0 : 0x205090));
            }
            default -> { // street lamp: arm over the road
                double ax = xb - side * ph * 0.25;
                cv.line(xb, top, ax, top - ph * 0.04, pw * 0.8, POLE, solid(c));
                cv.ellipse(ax, top, pw * 1.6, pw * 0.7, POLE, solid(st.game ? 0xFFF0B0 : 0xC8C8C0));
            }
        }
    }

    /** A pedestrian (or the rider on a bike) standing at (xb, yb) with height ph. */
    static void person(Canvas cv, Style st, double xb, double yb, double ph, int id) {
        if (ph < 2) return;
        int cl = st.clothes(), legs = st.game ? st.jitter(0x304070, 10) : st.jitter(0x2A2A30, 5), skin = st.skin();
        double lw = Math.max(1, ph * 0.08);
        double spread = ph * 0.06 * (st.rng.nextDouble() - 0.3);
        cv.line(xb - ph * 0.05, yb - ph * 0.48, xb - ph * 0.05 - spread, yb, lw, id, solid(legs));
        cv.line(xb + ph * 0.05, yb - ph * 0.48, xb + ph * 0.05 + spread, yb, lw, id, solid(legs));
        cv.ellipse(xb, yb - ph * 0.66, ph * 0.12, ph * 0.2, id, solid(cl));
        cv.line(xb - ph * 0.12, yb - ph * 0.8, xb - ph * 0.16, yb - ph * 0.5, Math.max(1, ph * 0.05), id, solid(cl));
        cv.line(xb + ph * 0.12, yb - ph * 0.8, xb + ph * 0.16, yb - ph * 0.5, Math.max(1, ph * 0.05), id, solid(cl));
        cv.ellipse(xb, yb - ph * 0.92, ph * 0.075, ph * 0.085, id, solid(skin));
    }

    /** A rider (label rider) on a bicycle or motorcycle. */
    static void rider(Canvas cv, Style st, double xb, double yb, double ph, int bike) {
        if (ph < 3) return;
        double r = ph * (bike == MOTORCYCLE ? 0.2 : 0.18), gap = ph * 0.55;
        int fc = bike == MOTORCYCLE ? (st.game ? 0xC01010 : 0x303030) : (st.game ? 0x10A0E0 : 0x404448);
        double th = Math.max(1, r * (bike == MOTORCYCLE ? 0.45 : 0.18));
        cv.ring(xb - gap / 2, yb - r, r, th, bike, solid(0x181818));
        cv.ring(xb + gap / 2, yb - r, r, th, bike, solid(0x181818));
        cv.line(xb - gap / 2, yb - r, xb, yb - r * 2.2, Math.max(1, r * 0.15), bike, solid(fc));
        cv.line(xb + gap / 2, yb - r, xb, yb - r * 2.2, Math.max(1, r * 0.15), bike, solid(fc));
        if (bike == MOTORCYCLE) cv.ellipse(xb, yb - r * 1.9, gap * 0.35, r * 0.5, bike, solid(fc));
        person(cv, st, xb, yb - r * 1.6, ph * 0.75, RIDER);
    }

    /** Car, truck or bus seen from behind/side at (xb, yb). */
    static void vehicle(Canvas cv, Style st, double xb, double yb, double s, int w, int h, int kind) {
        double vw = s * w * (kind == CAR ? 0.2 : kind == TRUCK ? 0.26 : 0.3);
        double vh = s * h * (kind == CAR ? 0.3 : kind == TRUCK ? 0.55 : 0.62);
        if (vw < 2 || vh < 2) return;
        int c = kind == CAR ? st.car() : kind == TRUCK ? st.jitter(st.game ? 0xE8E8E8 : 0x9C9C98, 8)
                                                     : st.jitter(st.game ? 0xF0B020 : 0x5A78A0, 8);
        int glass = st.game ? 0x20304A : 0x2A2E34, tyre = 0x141414;
        cv.ellipse(xb - vw * 0.32, yb - vh * 0.08, vw * 0.1, vh * 0.1, kind, solid(tyre));
        cv.ellipse(xb + vw * 0.32, yb - vh * 0.08, vw * 0.1, vh * 0.1, kind, solid(tyre));
        Paint body = st.game ? (x, y) -> (y > yb - vh * 0.35) ? c : darker(c, 1.05) : grain(c, 14, (long) xb);
        if (kind == CAR) {
            cv.rect(xb - vw / 2, yb - vh * 0.62, xb + vw / 2, yb - vh * 0.1, kind, body);
            cv.poly(new double[] {xb - vw * 0.4, xb + vw * 0.4, xb + vw * 0.3, xb - vw * 0.3},
                    new double[] {yb - vh * 0.6, yb - vh * 0.6, yb - vh, yb - vh}, kind, body);
            cv.poly(new double[] {xb - vw * 0.35, xb + vw * 0.35, xb + vw * 0.27, xb - vw * 0.27},
                    new double[] {yb - vh * 0.63, yb - vh * 0.63, yb - vh * 0.93, yb - vh * 0.93}, kind, solid(glass));
            cv.rect(xb - vw * 0.45, yb - vh * 0.5, xb - vw * 0.32, yb - vh * 0.42, kind, solid(0xD02020));
            cv.rect(xb + vw * 0.32, yb - vh * 0.5, xb + vw * 0.45, yb - vh * 0.42, kind, solid(0xD02020));
        } else if (kind == TRUCK) {
            cv.rect(xb - vw / 2, yb - vh, xb + vw / 2, yb - vh * 0.12, kind, body);
            cv.rect(xb - vw / 2, yb - vh * 0.2, xb + vw / 2, yb - vh * 0.12, kind, solid(darker(c, 0.6)));
        } else {
            cv.rect(xb - vw / 2, yb - vh, xb + vw / 2, yb - vh * 0.1, kind, body);
            cv.rect(xb - vw * 0.42, yb - vh * 0.9, xb + vw * 0.42, yb - vh * 0.55, kind, solid(glass));
        }
    }

    static void tree(Canvas cv, Style st, double xb, double yb, double sh, long salt) {
        double th = sh * 0.55, tw = Math.max(1, sh * 0.02);
        int bark = st.game ? 0x6A4020 : 0x4A3A2E, c = st.vegetation();
        cv.rect(xb - tw / 2, yb - th, xb + tw / 2, yb, VEGETATION, solid(bark));
        double r = sh * st.u(0.1, 0.18);
        for (int k = 0; k < 4; k++) {
            double cx = xb + r * st.u(-0.6, 0.6), cy = yb - th - r * st.u(-0.2, 0.6);
            long sl = salt + k;
            cv.ellipse(cx, cy, r, r * 0.85, VEGETATION, (x, y) -> darker(c, 0.65 + 0.55 * hash(x / 2, y / 2, sl)));
        }
    }

    /** Domain look: light, colour, noise and blur; returns BGR bytes. */
    static byte[] finishImage(Canvas cv, Style st, long salt) {
        int w = cv.w, h = cv.h, n = w * h;
        float[] r = new float[n], g = new float[n], b = new float[n];
        for (int i = 0; i < n; i++) {
            int c = cv.rgb[i];
            r[i] = c >> 16 & 255;
            g[i] = c >> 8 & 255;
            b[i] = c & 255;
        }
        if (st.game) {
            // vivid colours, hard contrast, warm sun from one side
            double sat = st.u(1.2, 1.4), warm = st.u(1.0, 1.08);
            double sunSide = st.rng.nextBoolean() ? 1 : -1;
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int i = y * w + x;
                    double gray = 0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i];
                    double light = 1.0 + 0.12 * sunSide * (x / (double) w - 0.5);
                    r[i] = (float) ((gray + sat * (r[i] - gray)) * light * warm);
                    g[i] = (float) ((gray + sat * (g[i] - gray)) * light);
                    b[i] = (float) ((gray + sat * (b[i] - gray)) * light / warm);
                }
            }
        } else {
            // overcast: desaturate, lower contrast, vignette, uneven exposure, blur, sensor noise
            double sat = st.u(0.55, 0.75), contrast = st.u(0.75, 0.9), expo = st.u(0.85, 1.1);
            double tintG = st.u(0.98, 1.04), tintB = st.u(1.0, 1.06);
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int i = y * w + x;
                    double gray = 0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i];
                    double dx = (x - w / 2.0) / (w / 2.0), dy = (y - h / 2.0) / (h / 2.0);
                    double light = expo * (1.0 - 0.25 * (dx * dx + dy * dy) / 2) * (1.0 - 0.08 * y / h);
                    r[i] = (float) ((128 + contrast * (gray + sat * (r[i] - gray) - 128)) * light);
                    g[i] = (float) ((128 + contrast * (gray + sat * (g[i] - gray) - 128)) * light * tintG);
                    b[i] = (float) ((128 + contrast * (gray + sat * (b[i] - gray) - 128)) * light * tintB);
                }
            }
            double sigma = st.u(0.7, 1.2);
            blur(r, w, h, sigma);
            blur(g, w, h, sigma);
            blur(b, w, h, sigma);
            double noise = st.u(4, 8);
            for (int i = 0; i < n; i++) {
                double e = (hash(i, 1, salt) + hash(i, 2, salt) + hash(i, 3, salt) - 1.5) * 2 * noise;
                r[i] += (float) (e + (hash(i, 4, salt) - 0.5) * noise);
                g[i] += (float) e;
                b[i] += (float) (e + (hash(i, 5, salt) - 0.5) * noise);
            }
        }
        byte[] out = new byte[n * 3];
        for (int i = 0; i < n; i++) {
            out[i * 3] = (byte) clamp(b[i]);
            out[i * 3 + 1] = (byte) clamp(g[i]);
            out[i * 3 + 2] = (byte) clamp(r[i]);
        }
        return out;
    }

    /** Separable Gaussian blur, edges replicated. */
    static void blur(float[] a, int w, int h, double sigma) {
        int rad = (int) Math.ceil(2.5 * sigma);
        float[] k = new float[2 * rad + 1];
        float sum = 0;
        for (int i = -rad; i <= rad; i++) {
            k[i + rad] = (float) Math.exp(-i * i / (2 * sigma * sigma));
            sum += k[i + rad];
        }
        for (int i = 0; i < k.length; i++) k[i] /= sum;
        float[] tmp = new float[a.length];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                float s = 0;
                for (int i = -rad; i <= rad; i++) s += k[i + rad] * a[y * w + Math.min(w - 1, Math.max(0, x + i))];
                tmp[y * w + x] = s;
            }
        }
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                float s = 0;
                for (int i = -rad; i <= rad; i++) s += k[i + rad] * tmp[Math.min(h - 1, Math.max(0, y + i)) * w + x];
                a[y * w + x] = s;
            }
        }
    }
}
