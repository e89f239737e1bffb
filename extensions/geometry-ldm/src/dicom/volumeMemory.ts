/**
 * Where a read puts its HU volume. The default is a fresh Float32Array. A host with a spare
 * core may hand out memory whose pages another thread faults in ahead of the conversion:
 * the first write to fresh memory costs about as much as the HU conversion itself on some
 * hosts (BENCHMARKS.md, DICOMweb read), and page faults run in parallel on two threads.
 */
export interface VolumeBuffer {
  /** `voxels` zeros (float32). */
  readonly data: Float32Array;
  /** The reader has written voxels [0, upTo), or the part of them it reached in order. */
  written(upTo: number): void;
  /** The reader is done with writing (also after a failure). */
  release(): void;
}

export interface VolumeMemory {
  allocate(voxels: number): VolumeBuffer;
}

export const plainVolumeMemory: VolumeMemory = {
  allocate: (voxels) => ({
    data: new Float32Array(voxels),
    written: () => undefined,
    release: () => undefined,
  }),
};
