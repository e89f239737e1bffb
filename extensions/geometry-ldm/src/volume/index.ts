/** Volume module: the Volume/Grid types and pure voxel math (no I/O, no threads). */
export * from './volume';
export * from './resample';
export * from './pad';
export * from './intensity';
export * from './stats';
