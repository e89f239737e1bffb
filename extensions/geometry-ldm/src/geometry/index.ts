export * from './conventions';
export * from './errors';
export * from './affine';
export * from './dicomGeometry';
export * from './groupSpace';
export * from './generationGeometry';
export * from './coordinateChannels';
export * from './sliceHoles';
