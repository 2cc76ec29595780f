package dev.hrda.model;

/** A decode head's configuration: DAFormer/SegFormer ({@link HeadConfig}) or DeepLab ({@link DeepLabConfig}). */
public sealed interface DecodeHeadConfig permits HeadConfig, DeepLabConfig {
    int numClasses();

    /** Channels of the four encoder levels the head is built for (the levels it reads may be fewer). */
    int[] inChannels();
}
