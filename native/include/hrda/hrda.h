/* Umbrella header: every op family of the hrda native ABI. */
#ifndef HRDA_H
#define HRDA_H
#include "common.h"      /* dtypes, status codes, allocation, shared RNG */
#include "elementwise.h" /* fill, axpby, mul, add_bias, channel_sum, sum, activations, dropout, convert */
#include "copy.h"        /* copy_box (concat/split/crop/insert), transpose */
#include "resize.h"      /* bilinear (align_corners=False) forward/backward, nearest */
#include "norm.h"        /* layer norm, batch norm 2d */
#include "softmax.h"     /* softmax over channels, cross-entropy with ignore index and weights */
#include "losses.h"      /* fused segmentation loss at label resolution, masked feature distance */
#include "ripu_losses.h" /* RIPU: negative learning, local consistency on GT boundaries */
#include "conv.h"        /* im2col/col2im, depthwise conv */
#include "pool.h"        /* max pooling (ResNet stem) */
#include "attention.h"   /* fused multi-head attention (MiT efficient self-attention) */
#include "fusion.h"      /* HRDA scale-attention fusion */
#include "augment.h"     /* DACS colour jitter, blur, ClassMix, pseudo-labels, label downscaling, MIC mask */
#include "optim.h"       /* multi-tensor AdamW, SGD with momentum, EMA */
#include "active.h"      /* RIPU acquisition scores, greedy RA/PA selection, label reveal */
#include "device.h"      /* CUDA device, stream, memory management (libhrda_cuda only) */
#endif
