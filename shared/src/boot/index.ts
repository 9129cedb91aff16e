// The boot check: an image is only done when it boots in QEMU. Used by image-creator and by `img verify`.
export * from './verify-boot.ts';
export * from './detect-arch.ts';
