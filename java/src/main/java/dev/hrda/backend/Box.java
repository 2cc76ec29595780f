package dev.hrda.backend;

/**
 * A box copy between two [N, C, H, W] tensors: dst[n, cd+c, hd+h, wd+w] (+)= src[n, cs+c, hs+h, ws+w]
 * for c < sizeC, h < sizeH, w < sizeW. Concat, split, crop and insert are all boxes.
 */
public record Box(int n, int srcC, int srcH, int srcW, int cs, int hs, int ws,
                  int dstC, int dstH, int dstW, int cd, int hd, int wd,
                  int sizeC, int sizeH, int sizeW) {}
